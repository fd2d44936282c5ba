"""Continuum transitions service: the five-phase move from children's to adult mental health services."""
