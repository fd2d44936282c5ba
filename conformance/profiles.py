"""The StructureDefinition profiles (R4 differentials) of what Continuum requires.

Each element states what the owning service enforces when it creates or keeps the resource:
its URLs, codes and bindings come from the services' constants and enums. A rule a differential
cannot state (a reason is a code or a reference; a finished contact says how the person was seen)
is a `constraint` whose `key` the offline validator (`gateway.validate`) implements; the
FHIRPath `expression` states it for any other validator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance import BASE
from conformance.codesystems import CS_BOROUGH
from gateway.identity import NHS_NUMBER
from gateway.tables import EXT_BOROUGH
from services.careplans.domain import codes as cp
from services.referrals.domain import codes as rf
from services.referrals.service import episodes as referral_episodes
from services.transitions.domain import codes as tr

SD = f"{BASE}/StructureDefinition"
CORE = "http://hl7.org/fhir/StructureDefinition"
VS = f"{BASE}/ValueSet"

REFERRAL = "referral-servicerequest"
REFERRAL_TASK = "referral-task"
DIALOG = "dialog-questionnaireresponse"
CAREPLAN = "coproduced-careplan"
PATIENT = "nhs-patient"
EPISODE = "caseload-episodeofcare"
CONTACT = "contact-encounter"
TRANSITION_PLAN = "transition-plan"
TRANSITION_CASE = "transition-case-task"


@dataclass(frozen=True)
class Profile:
    """A profile: its id, the type it constrains, what it is for, and its differential elements."""

    id: str
    type: str
    title: str
    description: str
    elements: tuple[dict[str, Any], ...]

    @property
    def url(self) -> str:
        """The canonical URL."""
        return f"{SD}/{self.id}"


def el(id_: str, **content: Any) -> dict[str, Any]:
    """A differential element; its path is the id without slice names."""
    path = ".".join(segment.split(":")[0] for segment in id_.split("."))
    body: dict[str, Any] = {"id": id_, "path": path}
    last = id_.rsplit(".", 1)[-1]
    if ":" in last:
        body["sliceName"] = last.split(":", 1)[1]
    body.update(content)
    return body


def ref(*targets: str) -> list[dict[str, Any]]:
    """A Reference type limited to some resource types."""
    return [{"code": "Reference", "targetProfile": [f"{CORE}/{t}" for t in targets]}]


def bound(valueset: str) -> dict[str, Any]:
    """A required binding to a Continuum ValueSet."""
    return {"strength": "required", "valueSet": f"{VS}/{valueset}"}


def rule(key: str, human: str, expression: str, severity: str = "error") -> dict[str, Any]:
    """An invariant the offline validator implements by its key."""
    return {"key": key, "severity": severity, "human": human, "expression": expression}


def sliced_by_url(path: str) -> dict[str, Any]:
    """The usual extension slicing: by url, open."""
    return el(path, slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"})


def sliced_by_pattern(path: str, **content: Any) -> dict[str, Any]:
    """Slicing a repeating CodeableConcept or Identifier by the pattern of its slices."""
    return el(path, slicing={"discriminator": [{"type": "pattern", "path": "$this"}], "rules": "open"}, **content)


def extension(
    path: str,
    url: str,
    value_type: str | None,
    *,
    min_: int = 0,
    max_: str = "1",
    short: str | None = None,
    binding: str | None = None,
    targets: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """An extension slice (by its url) and, for a simple extension, the type and binding of its value."""
    name = path.rsplit(":", 1)[1]
    slice_: dict[str, Any] = {"min": min_, "max": max_, "type": [{"code": "Extension", "profile": [url]}]}
    if short:
        slice_["short"] = short
    found = [el(path, **slice_)]
    if value_type is not None:
        value: dict[str, Any] = {"type": ref(*targets) if targets else [{"code": value_type}]}
        if binding:
            value["binding"] = bound(binding)
        found.append(el(f"{path}.value[x]", **value))
    assert name
    return found


def sub_extension(
    path: str, name: str, value_type: str, *, min_: int = 0, max_: str = "1", binding: str | None = None
) -> list[dict[str, Any]]:
    """A part of a complex extension (its url is the part's name)."""
    slice_path = f"{path}.extension:{name}"
    value: dict[str, Any] = {"type": [{"code": value_type}]}
    if binding:
        value["binding"] = bound(binding)
    return [
        el(slice_path, min=min_, max=max_),
        el(f"{slice_path}.url", fixedUri=name),
        el(f"{slice_path}.value[x]", **value),
    ]


# ---------------------------------------------------------------- the profiles


def referral() -> Profile:
    """The referral ServiceRequest (services/referrals/service/referrals.py `_parse`)."""
    sr = "ServiceRequest"
    return Profile(
        REFERRAL,
        sr,
        "Continuum referral (ServiceRequest)",
        "A referral into a partnership service. The referrals service refuses one without a subject "
        "(a Patient), a requester, a receiving HealthcareService, a reason, or a referral-source category; "
        "it adds the received-at, spell and direction extensions and its tracking Task itself.",
        (
            el(
                sr,
                constraint=[
                    rule(
                        "cont-sr-reason",
                        "A referral gives its reason: a reasonCode (or text) or a reasonReference",
                        "reasonCode.exists() or reasonReference.exists()",
                    )
                ],
            ),
            sliced_by_url(f"{sr}.extension"),
            *extension(
                f"{sr}.extension:channel", rf.EXT_CHANNEL, "code", short="How it arrived", binding="referral-channel"
            ),
            *extension(
                f"{sr}.extension:lessRestrictiveOption",
                rf.EXT_LESS_RESTRICTIVE,
                "CodeableConcept",
                max_="*",
                short="Alternatives considered before an inpatient referral (FR-30)",
                binding="less-restrictive-option",
            ),
            *extension(
                f"{sr}.extension:direction",
                rf.EXT_DIRECTION,
                "code",
                short="Set by the service",
                binding="referral-direction",
            ),
            *extension(f"{sr}.extension:receivedAt", rf.EXT_RECEIVED_AT, "dateTime", short="Set by the service"),
            *extension(f"{sr}.extension:spell", rf.EXT_SPELL, "string", short="Set by the service"),
            *extension(
                f"{sr}.extension:communicationNeeds",
                rf.EXT_COMMUNICATION_NEEDS,
                None,
                short="Set by the service",
            ),
            el(f"{sr}.status", short="active (or draft) when sent; the service moves it"),
            el(f"{sr}.intent", binding=bound("referral-intent")),
            sliced_by_pattern(f"{sr}.category", min=1),
            el(
                f"{sr}.category:source",
                min=1,
                max="1",
                short="Who sent the referral (FR-17)",
                patternCodeableConcept={"coding": [{"system": rf.CS_SOURCE}]},
                binding=bound("referral-source"),
            ),
            el(f"{sr}.priority", binding=bound("referral-priority")),
            el(f"{sr}.subject", type=ref("Patient")),
            el(
                f"{sr}.requester",
                min=1,
                type=ref("PractitionerRole", "Practitioner", "Organization", "Patient", "RelatedPerson"),
                short="The responsible worker (internal referrals), the GP or external referrer, or the person",
            ),
            el(f"{sr}.performer", min=1, type=ref("HealthcareService"), short="The receiving service"),
        ),
    )


def referral_task() -> Profile:
    """The referral Task the referrals service creates and moves (services/referrals/service/referrals.py)."""
    task = "Task"
    return Profile(
        REFERRAL_TASK,
        task,
        "Continuum referral Task",
        "Tracks a referral's fulfilment by the receiving team: businessStatus is the referral state, "
        "moved only by the named operations ($triage, $accept, $decline ...). Clients read it; they do "
        "not write it.",
        (
            el(
                task,
                constraint=[
                    rule(
                        "cont-task-status",
                        "Task.status is the one the referral state (businessStatus) has (referral-state property "
                        "task-status)",
                        "businessStatus.coding.where(system='"
                        + rf.CS_STATE
                        + "').exists() implies status = %task-status-of-state",
                    )
                ],
            ),
            sliced_by_url(f"{task}.extension"),
            *extension(f"{task}.extension:changedBy", rf.EXT_CHANGED_BY, "Reference", short="Who moved it last"),
            *extension(f"{task}.extension:panelSlot", rf.EXT_PANEL_SLOT, "date", short="Complex Case Panel meeting"),
            el(f"{task}.status", binding=bound("referral-task-status")),
            el(f"{task}.businessStatus", min=1, binding=bound("referral-state")),
            el(f"{task}.statusReason", binding=bound("referral-task-status-reason")),
            el(f"{task}.intent", fixedCode="order"),
            el(
                f"{task}.code",
                min=1,
                patternCodeableConcept={"coding": [{"system": rf.CS_TASK, "code": rf.TaskCode.REFERRAL.value}]},
            ),
            el(f"{task}.focus", min=1, type=ref("ServiceRequest")),
            el(f"{task}.basedOn", type=ref("ServiceRequest")),
            el(f"{task}.for", min=1, type=ref("Patient")),
            el(f"{task}.authoredOn", min=1),
            el(f"{task}.requester", min=1),
            el(f"{task}.owner", min=1, type=ref("HealthcareService"), short="The receiving team"),
            el(f"{task}.output.type", binding=bound("referral-task-output")),
        ),
    )


def dialog_response() -> Profile:
    """The DIALOG QuestionnaireResponse (services/careplans/domain/dialog.py `check_response`, `read_ratings`)."""
    qr = "QuestionnaireResponse"
    return Profile(
        DIALOG,
        qr,
        "Continuum DIALOG response",
        "A DIALOG: the person's 1-7 rating of the 11 items of the DIALOG Questionnaire "
        f"({cp.DIALOG_URL}), each with whether they want more help; an unrated item says why "
        "(dialog-item-not-answered). The care-plans service computes the two scores.",
        (
            el(
                qr,
                constraint=[
                    rule(
                        "cont-dialog-questionnaire",
                        f"A DIALOG response names its Questionnaire: {cp.DIALOG_URL} (optionally |{cp.DIALOG_VERSION})",
                        f"questionnaire = '{cp.DIALOG_URL}' or questionnaire = '{cp.DIALOG_URL}|{cp.DIALOG_VERSION}'",
                    ),
                    rule(
                        "cont-dialog-items",
                        "The items are the Questionnaire's (by linkId, each once, none missing); each DIALOG item "
                        "is rated (one valueCoding from dialog-satisfaction, 1 to 7) or carries "
                        "dialog-item-not-answered, never both; more help is one valueBoolean",
                        "item.all(linkId in %questionnaire.item.linkId) and item.item.all("
                        "item.where(linkId.endsWith('.satisfaction')).answer.exists() xor "
                        f"extension('{cp.EXT_NOT_ANSWERED}').exists())",
                    ),
                ],
            ),
            el(f"{qr}.questionnaire", min=1),
            el(f"{qr}.status", binding=bound("dialog-response-status")),
            el(f"{qr}.subject", min=1, type=ref("Patient")),
            el(f"{qr}.basedOn", type=ref("ServiceRequest", "CarePlan"), short="The referral (or plan) it is for"),
            el(f"{qr}.item", min=2, max="2", short="The two groups: life-domains and treatment-aspects"),
            sliced_by_url(f"{qr}.item.item.extension"),
            *extension(
                f"{qr}.item.item.extension:notAnswered",
                cp.EXT_NOT_ANSWERED,
                "code",
                short="Why the item has no rating",
                binding="dialog-not-answered",
            ),
        ),
    )


def careplan() -> Profile:
    """The co-produced CarePlan (services/careplans/domain/plans.py `check_fields`, `check_activation`)."""
    plan = "CarePlan"
    ext = f"{plan}.extension"
    section = f"{ext}:section"
    budget = f"{ext}:personalHealthBudget"
    agreement = f"{ext}:coproductionAgreement"
    completion = f"{ext}:completion"
    review = f"{ext}:review"
    return Profile(
        CAREPLAN,
        plan,
        "Continuum co-produced care plan",
        "A care-plans service CarePlan: a DIALOG+ personalised plan, a crisis plan or a waiting-support plan. "
        "It has one Continuum category, intent plan and a Patient subject; it is created as a draft and "
        "becomes active only through $activate, when it is co-produced (FR-37).",
        (
            el(
                plan,
                constraint=[
                    rule(
                        "cont-careplan-coproduced",
                        "An active plan is co-produced: the person's agreement is recorded (when, how) and the "
                        "person is a contributor, or a capacity assessment is recorded (FR-37)",
                        f"status = 'active' implies (extension('{cp.EXT_AGREEMENT}').exists() and "
                        f"contributor.reference contains subject.reference) or extension('{cp.EXT_CAPACITY}').exists()",
                    )
                ],
            ),
            sliced_by_url(ext),
            *extension(section, cp.EXT_SECTION, None, max_="*", short="A plan section (FR-38)"),
            *sub_extension(section, "code", "code", min_=1, binding="careplan-section"),
            *sub_extension(section, "text", "string", min_=1),
            *extension(
                f"{ext}:crisisPreference",
                cp.EXT_CRISIS_PREFERENCE,
                "code",
                max_="*",
                binding="crisis-option",
                short="A crisis alternative to A&E the person prefers (FR-43)",
            ),
            *extension(f"{ext}:funding", cp.EXT_FUNDING, "code", max_="*", binding="care-funding"),
            *extension(budget, cp.EXT_PHB, None),
            *sub_extension(budget, "type", "code", binding="personal-health-budget-type"),
            *sub_extension(budget, "amount", "Money"),
            *extension(f"{ext}:longTerm", cp.EXT_LONG_TERM, "boolean"),
            *extension(f"{ext}:complexNeeds", cp.EXT_COMPLEX_NEEDS, "boolean"),
            *extension(f"{ext}:copyHeld", cp.EXT_COPY_HELD, "boolean"),
            *extension(f"{ext}:episode", cp.EXT_EPISODE, "Reference", targets=("EpisodeOfCare",)),
            *extension(f"{ext}:referral", cp.EXT_REFERRAL, "Reference", targets=("ServiceRequest",)),
            *extension(agreement, cp.EXT_AGREEMENT, None, short="Written by $activate and sessions"),
            *sub_extension(agreement, "method", "code", binding="agreement-method"),
            *extension(completion, cp.EXT_COMPLETION, None, short="Written by $complete"),
            *sub_extension(completion, "reason", "code", binding="careplan-completion-reason"),
            *extension(review, cp.EXT_REVIEW, None, max_="*", short="Written by $review"),
            *sub_extension(review, "outcome", "code", binding="careplan-review-outcome"),
            el(f"{plan}.status", binding=bound("careplan-status")),
            el(f"{plan}.intent", fixedCode="plan"),
            sliced_by_pattern(f"{plan}.category", min=1),
            el(
                f"{plan}.category:continuum",
                min=1,
                max="1",
                short="Exactly one Continuum category",
                patternCodeableConcept={"coding": [{"system": cp.CS_CATEGORY}]},
                binding=bound("coproduced-careplan-category"),
            ),
            el(f"{plan}.subject", type=ref("Patient")),
            sliced_by_url(f"{plan}.activity.detail.extension"),
            *extension(
                f"{plan}.activity.detail.extension:performerType",
                cp.EXT_PERFORMER_TYPE,
                "code",
                binding="dialog-action-performer",
            ),
            sliced_by_url(f"{plan}.activity.progress.extension"),
            *extension(
                f"{plan}.activity.progress.extension:actionReview",
                cp.EXT_ACTION_REVIEW,
                "code",
                binding="dialog-action-review",
            ),
        ),
    )


def patient() -> Profile:
    """The Patient with an NHS number (gateway/patients.py `check_identifiers`)."""
    pt = "Patient"
    return Profile(
        PATIENT,
        pt,
        "Continuum patient with NHS number",
        "A Patient identified by their NHS number: 10 digits whose last is the Modulus 11 check digit "
        "(NHS Data Dictionary). The gateway refuses an invalid NHS number with 422 and links the "
        "number in its master patient index.",
        (
            sliced_by_pattern(f"{pt}.identifier", min=1),
            el(
                f"{pt}.identifier:nhsNumber",
                min=1,
                max="1",
                patternIdentifier={"system": NHS_NUMBER},
                constraint=[
                    rule(
                        "cont-nhs-number",
                        "An NHS number is 10 digits with a valid Modulus 11 check digit",
                        "value.matches('^[0-9]{10}$') and %modulus11(value)",
                    )
                ],
            ),
            el(f"{pt}.identifier:nhsNumber.value", min=1),
            sliced_by_url(f"{pt}.extension"),
            *extension(f"{pt}.extension:borough", EXT_BOROUGH, "code", binding=CS_BOROUGH.rsplit("/", 1)[1]),
        ),
    )


def episode() -> Profile:
    """A team's caseload episode (services/referrals/service/episodes.py `create_episode`)."""
    eoc = "EpisodeOfCare"
    override = f"{eoc}.extension:closeOverride"
    return Profile(
        EPISODE,
        eoc,
        "Continuum caseload episode",
        "A person on a team's caseload: the team is the episode-healthcare-service extension. Several "
        "at once are allowed (FR-8); an episode is finished only by $close.",
        (
            sliced_by_url(f"{eoc}.extension"),
            *extension(
                f"{eoc}.extension:team",
                rf.EXT_HEALTHCARE_SERVICE,
                "Reference",
                min_=1,
                targets=("HealthcareService",),
                short="The team whose caseload it is",
            ),
            *extension(
                f"{eoc}.extension:closeReason",
                referral_episodes.EXT_CLOSE_REASON,
                "CodeableConcept",
                binding="referral-closure-reason",
                short="Written by $close",
            ),
            *extension(override, rf.EXT_OVERRIDE, None, short="Written by $close with an override (FR-9)"),
            el(f"{eoc}.patient", type=ref("Patient")),
        ),
    )


def contact() -> Profile:
    """A contact Encounter against a referral (services/referrals/service/clock.py `_check`, `_referral`)."""
    enc = "Encounter"
    return Profile(
        CONTACT,
        enc,
        "Continuum contact",
        "A contact recorded against a referral (basedOn the ServiceRequest): how the person was seen "
        "and what it achieved, towards the waiting clock's stop (FR-12).",
        (
            el(
                enc,
                constraint=[
                    rule(
                        "cont-contact-finished",
                        "A finished contact says how the person was seen (a contact-mode type) and when (period.start)",
                        f"status = 'finished' implies (type.coding.where(system='{rf.CS_MODE}').exists() and "
                        "period.start.exists())",
                    )
                ],
            ),
            el(f"{enc}.status", binding=bound("contact-encounter-status")),
            sliced_by_pattern(f"{enc}.type"),
            el(
                f"{enc}.type:mode",
                max="1",
                patternCodeableConcept={"coding": [{"system": rf.CS_MODE}]},
                binding=bound("contact-mode"),
            ),
            el(
                f"{enc}.type:purpose",
                max="*",
                patternCodeableConcept={"coding": [{"system": rf.CS_CONTACT}]},
                binding=bound("contact-purpose"),
            ),
            el(f"{enc}.subject", min=1, type=ref("Patient")),
            el(f"{enc}.basedOn", min=1, type=ref("ServiceRequest"), short="The referral"),
        ),
    )


def transition_plan() -> Profile:
    """The transition plan (services/transitions/service/planning.py `record_meeting`, `record_agreement`;
    services/transitions/service/validation.py `validate_care_plan`)."""
    plan = "CarePlan"
    ext = f"{plan}.extension"
    agreement = f"{ext}:youngPersonAgreement"
    detail = f"{plan}.activity.detail"
    return Profile(
        TRANSITION_PLAN,
        plan,
        "Continuum transition plan",
        "A young person's plan for moving from children's to adult mental health services (NHS Data Dictionary "
        "'Child or Young Person's Mental Health Transition Plan'). The transitions service writes it at the "
        "phase-3 multi-agency meeting ($record-meeting): a draft naming each destination (FR-61), shared with "
        "the young person ($share-plan) and active only once they agree to it ($record-agreement, FR-56). "
        "Clients read it; they do not write it.",
        (
            el(
                plan,
                constraint=[
                    rule(
                        "cont-transition-plan-agreed",
                        "A transition plan is active only when the young person has agreed to it, after it was "
                        "shared with them (FR-56)",
                        f"status = 'active' implies (extension('{tr.EXT_AGREEMENT}').extension('decision').value "
                        f"= 'agreed' and extension('{tr.EXT_SHARED}').exists())",
                    )
                ],
            ),
            sliced_by_url(ext),
            *extension(
                f"{ext}:case",
                tr.EXT_CASE,
                "Reference",
                min_=1,
                targets=("Task",),
                short="The transition case (Task) the plan belongs to",
            ),
            *extension(
                f"{ext}:sharedWithYoungPerson",
                tr.EXT_SHARED,
                "dateTime",
                short="When the plan was shared with the young person ($share-plan)",
            ),
            *extension(agreement, tr.EXT_AGREEMENT, None, short="The young person's decision ($record-agreement)"),
            *sub_extension(agreement, "decision", "code", min_=1, binding="transition-plan-agreement"),
            *sub_extension(agreement, "decidedBy", "Reference", min_=1),
            *sub_extension(agreement, "recorded", "dateTime", min_=1),
            *sub_extension(agreement, "note", "string"),
            el(f"{plan}.intent", fixedCode="plan"),
            sliced_by_pattern(f"{plan}.category", min=1),
            el(
                f"{plan}.category:transitionPlan",
                min=1,
                max="1",
                patternCodeableConcept={"coding": [{"system": tr.CS_CAREPLAN_CATEGORY, "code": "transition-plan"}]},
            ),
            el(f"{plan}.subject", type=ref("Patient"), short="The young person"),
            el(
                f"{plan}.contributor",
                min=1,
                short="The young person and the meeting's attendees: the plan is co-produced (Q-TR-08)",
            ),
            el(f"{plan}.activity", min=1, short="One activity per destination (FR-61)"),
            el(f"{detail}.code", min=1, binding=bound("transition-destination")),
            el(f"{detail}.performer", min=1, max="1", type=ref("HealthcareService"), short="The receiving service"),
            el(
                f"{detail}.reasonCode",
                binding=bound("transitions-clinical-service-reason"),
                short="Why the Transitions team's own clinical service is the destination",
            ),
        ),
    )


def transition_case() -> Profile:
    """The transition case Task (services/transitions/service/opening.py `open_case`, case.py, the steps)."""
    task = "Task"
    ext = f"{task}.extension"
    high_risk = f"{ext}:highRisk"
    alternative = f"{ext}:agreedAlternativeTime"
    return Profile(
        TRANSITION_CASE,
        task,
        "Continuum transition case (Task)",
        "A young person's move from children's to adult mental health services, opened with "
        "$open-transition (FR-52): its businessStatus is the phase (1 to 5, or closed), moved only by the "
        "case's named operations, in order (FR-59). Each phase has its own Task (partOf the case). "
        "Clients read it; they do not write it.",
        (
            sliced_by_url(ext),
            *extension(
                f"{ext}:phase1Deadline",
                tr.EXT_PHASE1_DEADLINE,
                "date",
                short="The pre-transition discussion is due before this date (17½, FR-53)",
            ),
            *extension(
                f"{ext}:plannedActionDate",
                tr.EXT_PLANNED_ACTION,
                "date",
                short="When the agreed plan is to be actioned (18, or an agreed alternative time, FR-57)",
            ),
            *extension(high_risk, tr.EXT_HIGH_RISK, None, short="The high-risk flag and why (FR-60)"),
            *sub_extension(high_risk, "flag", "boolean", min_=1),
            *sub_extension(high_risk, "reason", "CodeableConcept", max_="*", binding="transition-high-risk-reason"),
            *sub_extension(high_risk, "note", "string"),
            *sub_extension(high_risk, "recorded", "dateTime", min_=1),
            *extension(alternative, tr.EXT_ALTERNATIVE_TIME, None, short="Written by $set-action-date (FR-57)"),
            *sub_extension(alternative, "date", "date", min_=1),
            *sub_extension(alternative, "agreedBy", "Reference", min_=1, max_="*"),
            *sub_extension(alternative, "rationale", "string", min_=1),
            *sub_extension(alternative, "recorded", "dateTime", min_=1),
            *extension(f"{ext}:changedBy", tr.EXT_CHANGED_BY, "Reference", short="Who moved it last"),
            el(f"{task}.statusReason", binding=bound("transition-status-reason")),
            el(f"{task}.businessStatus", min=1, binding=bound("transition-phase")),
            el(f"{task}.intent", fixedCode="plan"),
            el(
                f"{task}.code",
                min=1,
                patternCodeableConcept={"coding": [{"system": tr.CS_TASK, "code": tr.TaskCode.CASE.value}]},
            ),
            el(f"{task}.for", min=1, type=ref("Patient"), short="The young person"),
            el(f"{task}.requester", min=1, type=ref("PractitionerRole"), short="The referring worker"),
            el(f"{task}.owner", min=1, type=ref("HealthcareService"), short="The team responsible for the phase"),
            el(f"{task}.authoredOn", min=1),
            el(f"{task}.input.type", binding=bound("transition-task-input")),
            el(f"{task}.output.type", binding=bound("transition-task-output")),
        ),
    )


def all_profiles() -> list[Profile]:
    """Every profile, sorted by id."""
    return sorted(
        [
            referral(),
            referral_task(),
            dialog_response(),
            careplan(),
            patient(),
            episode(),
            contact(),
            transition_plan(),
            transition_case(),
        ],
        key=lambda p: p.id,
    )


def resource(profile: Profile, common: Mapping[str, Any]) -> dict[str, Any]:
    """The StructureDefinition resource."""
    return {
        "resourceType": "StructureDefinition",
        "id": profile.id,
        "url": profile.url,
        **common,
        "name": "".join(w[:1].upper() + w[1:] for w in profile.id.split("-")),
        "title": profile.title,
        "status": "active",
        "experimental": False,
        "description": profile.description,
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": profile.type,
        "baseDefinition": f"{CORE}/{profile.type}",
        "derivation": "constraint",
        "differential": {"element": list(profile.elements)},
    }
