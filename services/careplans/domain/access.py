"""Who may read a care plan (FR-40 carers and sharing consent, FR-45 crisis services).

The reader is named by the `X-Continuum-Reader` request header (`Patient/..`,
`RelatedPerson/..` or `PractitionerRole/..`); until the gateway supplies verified identity,
a request without it is a trusted internal call and is not checked.

- The person reads their own plans.
- A carer (RelatedPerson) reads a plan only as a carer on its care team with the person's
  information-sharing Consent recorded against them (FR-40).
- A worker of a partnership team reads any plan; crisis-line, MHCAS, CRHTT and liaison workers
  read crisis plans (FR-45); anyone else needs a sharing agreement with their organisation
  recorded on the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.partnership import ServiceType
from services.careplans.domain.codes import EXT_SHARING_AGREEMENT, EXT_SHARING_CONSENT, CareTeamRole, Category
from services.careplans.domain.fhir import Json, extensions, ref
from services.careplans.domain.plans import category_of, members, subject_of
from services.kit.errors import Forbidden

READER_HEADER = "X-Continuum-Reader"
CRISIS_READERS = frozenset({ServiceType.CRISIS_LINE, ServiceType.MHCAS, ServiceType.CRHTT, ServiceType.LIAISON})


@dataclass(frozen=True)
class Worker:
    """What access needs to know about a PractitionerRole reader (None fields: not in the directory)."""

    reference: str
    known: bool
    internal: bool = False
    service_type: ServiceType | None = None
    organization: str | None = None


def _refuse(why: str) -> Forbidden:
    return Forbidden(why, READER_HEADER)


def _carer_may_read(plan: Json, reader: str) -> bool:
    for carer in members(plan, CareTeamRole.CARER):
        if ref(carer.get("member")) == reader and extensions(carer, EXT_SHARING_CONSENT):
            return True
    return False


def _worker_may_read(plan: Json, worker: Worker) -> bool:
    if worker.internal:
        return True
    if category_of(plan) is Category.CRISIS and worker.service_type in CRISIS_READERS:
        return True
    agreements = {ref(e.get("valueReference")) for e in extensions(plan, EXT_SHARING_AGREEMENT)}
    return f"Organization/{worker.organization}" in agreements


def check_read(plan: Json, reader: str, worker: Worker | None) -> None:
    """Allow the read, or 403 saying why (FR-40, FR-45)."""
    if reader.startswith("Patient/"):
        if reader != subject_of(plan):
            raise _refuse("A person reads only their own plans")
    elif reader.startswith("RelatedPerson/"):
        if not _carer_may_read(plan, reader):
            raise _refuse("This carer has no information-sharing consent from the person for this plan (FR-40)")
    elif reader.startswith("PractitionerRole/"):
        if worker is None or not worker.known:
            raise _refuse(f"{reader} is not a worker in the directory")
        if not _worker_may_read(plan, worker):
            raise _refuse(f"{reader} has no sharing agreement for this plan (FR-45)")
    else:
        raise _refuse("The reader is a Patient, RelatedPerson or PractitionerRole")


def may_search(reader: str, worker: Worker | None) -> bool:
    """Searching plans is for partnership workers; everyone else reads a plan by its id."""
    return reader.startswith("PractitionerRole/") and worker is not None and worker.internal
