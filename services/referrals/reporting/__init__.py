"""Reporting: the referrals service's KPIs as FHIR Measures, evaluated in the database (FR-82 to FR-96)."""
