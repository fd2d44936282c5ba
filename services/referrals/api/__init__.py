"""HTTP routes of the referrals service: thin, FHIR in and out through the kit."""
