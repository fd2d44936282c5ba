"""The ValueSets Continuum binds elements and operation parameters to.

Every local CodeSystem has a ValueSet of all its codes (same id). The others are subsets the
services enforce: the FHIR codes a service accepts where R4 allows more (a referral's
priority, a DIALOG response's status), and the decline reasons a decision may use (the
CodeSystem's prohibited codes excluded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance import BASE
from conformance.codesystems import LocalCodeSystem, display_of
from services.careplans.domain import codes as cp
from services.referrals.domain import codes as rf
from services.referrals.service import clock as referral_clock
from services.referrals.service import referrals as referral_service

VS = f"{BASE}/ValueSet"
REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"
REQUEST_INTENT = "http://hl7.org/fhir/request-intent"
REQUEST_STATUS = "http://hl7.org/fhir/request-status"
TASK_STATUS = "http://hl7.org/fhir/task-status"
ANSWERS_STATUS = "http://hl7.org/fhir/questionnaire-answers-status"
ENCOUNTER_STATUS = "http://hl7.org/fhir/encounter-status"


@dataclass(frozen=True)
class Include:
    """One compose.include (or exclude): a whole system, some of its codes, or a property filter."""

    system: str
    codes: tuple[tuple[str, str], ...] = ()
    filter: tuple[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The compose element."""
        body: dict[str, Any] = {"system": self.system}
        if self.codes:
            body["concept"] = [{"code": c, "display": d} for c, d in self.codes]
        if self.filter:
            body["filter"] = [{"property": self.filter[0], "op": "=", "value": self.filter[1]}]
        return body


@dataclass(frozen=True)
class LocalValueSet:
    """A Continuum ValueSet."""

    id: str
    title: str
    description: str
    include: tuple[Include, ...]
    exclude: tuple[Include, ...] = ()

    @property
    def url(self) -> str:
        """The canonical URL."""
        return f"{VS}/{self.id}"


def _codes(values: Iterable[str], displays: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    return tuple((v, (displays or {}).get(v) or display_of(v)) for v in values)


def subsets() -> list[LocalValueSet]:
    """The ValueSets that are not simply "every code of one CodeSystem"."""
    statuses = sorted(set(rf.TASK_STATUS.values()))
    return [
        LocalValueSet(
            "referral-priority",
            "Referral priority",
            "The FHIR request priorities a referral may have: very urgent is asap, an emergency-department "
            "referral stat (services.referrals.domain.codes.Priority).",
            (Include(REQUEST_PRIORITY, _codes(p.value for p in rf.Priority)),),
        ),
        LocalValueSet(
            "referral-intent",
            "Referral intent",
            "The FHIR request intents a new referral may have (services.referrals.service.referrals._INTENTS).",
            (Include(REQUEST_INTENT, _codes(sorted(referral_service._INTENTS))),),
        ),
        LocalValueSet(
            "referral-task-status",
            "Referral Task status",
            "The FHIR Task statuses a referral Task takes, one per referral state "
            "(services.referrals.domain.codes.TASK_STATUS).",
            (Include(TASK_STATUS, _codes(statuses)),),
        ),
        LocalValueSet(
            "referral-task-status-reason",
            "Referral Task status reason",
            "Why a referral Task ended: a decline reason or a closure reason.",
            (Include(rf.CS_DECLINE), Include(rf.CS_CLOSURE)),
        ),
        LocalValueSet(
            "decline-reason-allowed",
            "Decline reasons a decision may give",
            "Every decline reason except the prohibited ones (rigid criteria and GP re-referral, FR-2 and "
            "FR-6): the service refuses those with 422 business-rule.",
            (Include(rf.CS_DECLINE),),
            (Include(rf.CS_DECLINE, filter=("prohibited", "true")),),
        ),
        LocalValueSet(
            "contact-encounter-status",
            "Contact status",
            "The FHIR Encounter statuses a contact may have (services.referrals.service.clock._ENCOUNTER_STATUSES).",
            (Include(ENCOUNTER_STATUS, _codes(sorted(referral_clock._ENCOUNTER_STATUSES))),),
        ),
        LocalValueSet(
            "coproduced-careplan-category",
            "Co-produced care plan category",
            "The care-plans service's plan categories (services.careplans.domain.codes.Category).",
            (Include(cp.CS_CATEGORY, _codes(c.value for c in cp.Category)),),
        ),
        LocalValueSet(
            "careplan-status",
            "Care plan status",
            "The FHIR CarePlan statuses the care-plans service uses (services.careplans.domain.codes.PlanStatus).",
            (Include(REQUEST_STATUS, _codes(s.value for s in cp.PlanStatus)),),
        ),
        LocalValueSet(
            "dialog-response-status",
            "DIALOG response status",
            "A DIALOG is recorded when completed (services.careplans.domain.codes.ResponseStatus).",
            (Include(ANSWERS_STATUS, _codes(s.value for s in cp.ResponseStatus)),),
        ),
    ]


def all_valuesets(codesystems: Iterable[LocalCodeSystem]) -> list[LocalValueSet]:
    """One ValueSet per CodeSystem (all its codes) and the subsets, sorted by id."""
    found = [
        LocalValueSet(cs.id, cs.title, f"Every code of the {cs.title} CodeSystem.", (Include(cs.url),))
        for cs in codesystems
    ]
    found += subsets()
    ids = [v.id for v in found]
    assert len(ids) == len(set(ids)), "ValueSet ids must be unique"
    return sorted(found, key=lambda v: v.id)


def resource(vs: LocalValueSet, common: Mapping[str, Any]) -> dict[str, Any]:
    """The ValueSet resource."""
    compose: dict[str, Any] = {"include": [i.to_json() for i in vs.include]}
    if vs.exclude:
        compose["exclude"] = [i.to_json() for i in vs.exclude]
    return {
        "resourceType": "ValueSet",
        "id": vs.id,
        "url": vs.url,
        **common,
        "name": "".join(w[:1].upper() + w[1:] for w in vs.id.split("-")),
        "title": vs.title,
        "status": "active",
        "experimental": False,
        "description": vs.description,
        "immutable": False,
        "compose": compose,
    }
