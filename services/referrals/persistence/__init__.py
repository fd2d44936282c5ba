"""Referral storage: tables, search columns and repositories."""
