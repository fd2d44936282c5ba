"""The simulated world around the partnership: its two EPR instances and other senders.

* `instances`: the BEH and C&I EPRs registering their patients in the master patient index;
* `inbox`: what reaches each EPR (events routed by trust) and the EPR interface's Subscriptions;
* `record`: the read-only shared-record view, `GET /fhir/Patient/{id}/$everything`;
* `messaging`: BaRS `POST /fhir/$process-message` from the simulated external senders;
* `senders`: those senders (GP, emergency department, ambulance, police, VCSE).

See docs/epr-simulation.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.epr import inbox, instances, messaging, record

router = APIRouter()
router.include_router(messaging.router)
router.include_router(record.router)
router.include_router(instances.router)
router.include_router(inbox.router)
