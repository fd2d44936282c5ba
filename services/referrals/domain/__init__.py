"""Referral rules: pure Python, no I/O, no clock (every function takes `now`)."""
