"""HTTP routes of the care-plans service."""
