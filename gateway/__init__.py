"""The gateway: one FHIR R4 endpoint for EPR systems, identity and directory, events, and the
simulated EPRs of the partnership."""
