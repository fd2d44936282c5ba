"""The care-plans tables."""
