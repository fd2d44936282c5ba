"""The clinicians' thin web client: server-rendered pages over the gateway's FHIR API (issue 7)."""
