"""Who may read a plan (FR-40 carers with sharing consent, FR-45 crisis services)."""

from __future__ import annotations

from typing import Any

import pytest

from reference.partnership import ServiceType
from services.careplans.domain.access import Worker, check_read, may_search
from services.careplans.domain.codes import CS_CATEGORY, EXT_SHARING_AGREEMENT, CareTeamRole, Category
from services.careplans.domain.content import add_member
from services.careplans.domain.fhir import concept, reference, simple
from services.kit.errors import Forbidden
from tests.careplans.domain.assertions import assert_issue

INTERNAL = Worker("PractitionerRole/barnet-core-north-worker", True, True, ServiceType.CORE_CMHT, "beh")
CRISIS_LINE = Worker("PractitionerRole/ncl-crisis-line-worker", True, True, ServiceType.CRISIS_LINE, "beh")
EXTERNAL_CRISIS = Worker("PractitionerRole/las-crew", True, False, ServiceType.CRHTT, "las")
HOUSING = Worker("PractitionerRole/barnet-housing-advice-worker", True, False, ServiceType.HOUSING, "barnet-council")
UNKNOWN = Worker("PractitionerRole/nobody", False)


def plan(category: Category = Category.DIALOG_PLUS) -> dict[str, Any]:
    body = {
        "resourceType": "CarePlan",
        "category": [concept(CS_CATEGORY, category.value)],
        "subject": reference("Patient/p-1"),
    }
    add_member(body, CareTeamRole.CARER, "RelatedPerson/with-consent", consent="Consent/share-1")
    add_member(body, CareTeamRole.CARER, "RelatedPerson/no-consent")
    return body


def refused(body: dict[str, Any], reader: str, worker: Worker | None = None) -> None:
    with pytest.raises(Forbidden) as info:
        check_read(body, reader, worker)
    assert_issue(info.value, status=403, code="forbidden", expression=("X-Continuum-Reader",))


def test_the_person_reads_their_own_plan_only() -> None:
    check_read(plan(), "Patient/p-1", None)
    refused(plan(), "Patient/p-2")


def test_a_carer_reads_only_with_sharing_consent() -> None:
    check_read(plan(), "RelatedPerson/with-consent", None)
    refused(plan(), "RelatedPerson/no-consent")
    refused(plan(), "RelatedPerson/stranger")


def test_partnership_workers_read_and_unknown_workers_do_not() -> None:
    check_read(plan(), INTERNAL.reference, INTERNAL)
    refused(plan(), UNKNOWN.reference, UNKNOWN)
    refused(plan(), "Device/d-1")


def test_crisis_services_read_crisis_plans() -> None:
    check_read(plan(Category.CRISIS), CRISIS_LINE.reference, CRISIS_LINE)
    check_read(plan(Category.CRISIS), EXTERNAL_CRISIS.reference, EXTERNAL_CRISIS)
    refused(plan(Category.DIALOG_PLUS), EXTERNAL_CRISIS.reference, EXTERNAL_CRISIS)


def test_other_external_workers_need_a_sharing_agreement() -> None:
    body = plan(Category.CRISIS)
    refused(body, HOUSING.reference, HOUSING)
    body["extension"] = [simple(EXT_SHARING_AGREEMENT, "Reference", reference("Organization/barnet-council"))]
    check_read(body, HOUSING.reference, HOUSING)


def test_only_partnership_workers_search() -> None:
    assert may_search(INTERNAL.reference, INTERNAL)
    assert not may_search(HOUSING.reference, HOUSING)
    assert not may_search("RelatedPerson/with-consent", None)
    assert not may_search("Patient/p-1", None)
