"""The care-plans service: DIALOG, DIALOG+ sessions, co-produced, crisis and waiting-support plans."""
