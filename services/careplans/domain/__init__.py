"""The care-plans rules: pure Python, no framework, database or clock."""
