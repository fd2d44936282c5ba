"""FHIR routes of the transitions service."""
