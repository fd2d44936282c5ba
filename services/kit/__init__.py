"""Shared FHIR plumbing for Continuum's services: no tables, no rules."""
