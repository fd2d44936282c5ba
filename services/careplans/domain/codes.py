"""The codes the care-plans service understands, as StrEnums, with their CodeSystem and extension URLs.

fhir.resources does not check code values, so every coded element a rule depends on is parsed
into one of these enums; an unknown code is refused naming the element (FR-48: national codes
keep their own systems, everything else is a declared Continuum CodeSystem).
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.fhir import parse_code

__all__ = ["parse_code"]

BASE = "https://continuum.example.org/fhir"
CS = f"{BASE}/CodeSystem"
SD = f"{BASE}/StructureDefinition"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"

DIALOG_URL = f"{BASE}/Questionnaire/dialog"
DIALOG_ID = "dialog"
DIALOG_VERSION = "1.0.0"

# Declared local CodeSystems (FR-48).
CS_SATISFACTION = f"{CS}/dialog-satisfaction"
CS_DIALOG_ITEM = f"{CS}/dialog-item"
CS_DIALOG_SCORE = f"{CS}/dialog-score"
CS_INTERPRETATION = f"{CS}/dialog-interpretation"
CS_NOT_ANSWERED = f"{CS}/dialog-not-answered"
CS_CATEGORY = f"{CS}/careplan-category"
CS_GOAL_KIND = f"{CS}/goal-kind"
CS_SECTION = f"{CS}/careplan-section"
CS_CARE_TEAM_ROLE = f"{CS}/care-team-role"
CS_ACTION_PERFORMER = f"{CS}/dialog-action-performer"
CS_ACTION_REVIEW = f"{CS}/dialog-action-review"
CS_DIALOG_STEP = f"{CS}/dialog-plus-step"
CS_AGREEMENT_METHOD = f"{CS}/agreement-method"
CS_COMPLETION = f"{CS}/careplan-completion-reason"
CS_REVIEW_OUTCOME = f"{CS}/careplan-review-outcome"
CS_CRISIS_OPTION = f"{CS}/crisis-option"
CS_FUNDING = f"{CS}/care-funding"
CS_PHB_TYPE = f"{CS}/personal-health-budget-type"
CS_ACTION = f"{CS}/careplan-activity"

# SNOMED CT concepts confirmed in clinical-domain §6.
SNOMED_CARE_PLAN = "734163000"
SNOMED_PCSP = "2181441000000107"
SNOMED_CRISIS_PLAN = "736253002"

# Extensions the service reads or writes.
EXT_NOT_ANSWERED = f"{SD}/dialog-item-not-answered"
EXT_TIMEPOINT = f"{SD}/outcome-timepoint"
EXT_EPISODE = f"{SD}/careplan-episode"
EXT_REFERRAL = f"{SD}/careplan-referral"
EXT_SESSION = f"{SD}/dialog-plus-session"
EXT_PERFORMER_TYPE = f"{SD}/dialog-action-performer"
EXT_ACTION_REVIEW = f"{SD}/dialog-action-review"
EXT_AGREEMENT = f"{SD}/coproduction-agreement"
EXT_CAPACITY = f"{SD}/capacity-assessment"
EXT_COPRODUCED = f"{SD}/coproduced"
EXT_SECTION = f"{SD}/careplan-section"
EXT_LONG_TERM = f"{SD}/careplan-long-term"
EXT_COMPLEX_NEEDS = f"{SD}/complex-needs"
EXT_ADVOCACY = f"{SD}/advocacy"
EXT_FUNDING = f"{SD}/care-funding"
EXT_PHB = f"{SD}/personal-health-budget"
EXT_SHARING_CONSENT = f"{SD}/carer-sharing-consent"
EXT_CARER_ASSESSMENT = f"{SD}/carer-assessment"
EXT_SHARING_AGREEMENT = f"{SD}/sharing-agreement"
EXT_PATHWAY_BACK = f"{SD}/pathway-back"
EXT_COMPLETION = f"{SD}/careplan-completion"
EXT_REVIEW = f"{SD}/careplan-review"
EXT_NEXT_REVIEW = f"{SD}/careplan-next-review"
EXT_WARNING_SIGN = f"{SD}/crisis-early-warning-sign"
EXT_CRISIS_CONTACT = f"{SD}/crisis-contact"
EXT_CRISIS_PREFERENCE = f"{SD}/crisis-preference"
EXT_PHYSICAL_HEALTH_CONDITION = f"{SD}/crisis-physical-health-condition"
EXT_ADVANCE_DECISION = f"{SD}/advance-decision"
EXT_COPY_HELD = f"{SD}/copy-held"

# FR-43 (004:15): alternatives to A&E apply "where there is no physical health need".
PHYSICAL_HEALTH_CONDITION = (
    "These crisis alternatives to A&E are for when there is no physical health need. "
    "If you are physically unwell or injured, call 999 or go to A&E."
)


class Group(StrEnum):
    """The two parts of the DIALOG scale (Q-DLG-01)."""

    LIFE = "life-domains"
    TREATMENT = "treatment-aspects"


class Scale(StrEnum):
    """The two DIALOG scores (clinical-domain §1.4)."""

    SQOL = "sqol"
    TREATMENT = "treatment-satisfaction"


class Interpretation(StrEnum):
    """What a DIALOG mean says: below 4 dissatisfied, 4 neutral, above 4 satisfied (§1.3)."""

    DISSATISFIED = "dissatisfied"
    NEUTRAL = "neutral"
    SATISFIED = "satisfied"


class NotAnswered(StrEnum):
    """Why a DIALOG item has no rating (clinical-domain §1.5: never impute)."""

    NOT_APPLICABLE = "not-applicable"
    ASKED_DECLINED = "asked-declined"


class Timepoint(StrEnum):
    """Where a score sits in a person's measures (Q-DLG-09: baseline, then follow-up)."""

    BASELINE = "baseline"
    FOLLOW_UP = "follow-up"


class ResponseStatus(StrEnum):
    """The QuestionnaireResponse statuses a recorded DIALOG may have."""

    COMPLETED = "completed"
    AMENDED = "amended"


class Category(StrEnum):
    """The kinds of CarePlan this service keeps."""

    DIALOG_PLUS = "dialog-plus-personalised-plan"
    CRISIS = "crisis"
    WAITING_SUPPORT = "waiting-support"


class PlanStatus(StrEnum):
    """The FHIR CarePlan statuses the service uses."""

    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    REVOKED = "revoked"


class GoalKind(StrEnum):
    """What a goal is for (FR-38: at least one recovery or well-being goal; Q-CP-02 social goals)."""

    RECOVERY = "recovery"
    WELL_BEING = "well-being"
    SOCIAL = "social"
    SELF_MANAGEMENT = "self-management"
    MAINTAINING_INDEPENDENCE = "maintaining-independence"


class Section(StrEnum):
    """The sections every personalised plan contains, even if "none identified" (FR-38)."""

    WHAT_MATTERS = "what-matters-to-me"
    STRENGTHS = "strengths"
    IMPORTANT_PEOPLE = "important-people"
    CULTURAL_NEEDS = "cultural-needs"
    PHYSICAL_HEALTH = "physical-health"
    DRUG_AND_ALCOHOL = "drug-and-alcohol"
    SOCIAL_GOALS = "social-goals"


class CareTeamRole(StrEnum):
    """Roles in a plan's care team (FR-49, FR-40, FR-41)."""

    CASE_MANAGER = "case-manager"
    CARE_COORDINATOR = "care-coordinator"
    KEY_WORKER = "key-worker"
    PEER_SUPPORT_WORKER = "peer-support-worker"
    CARER = "carer"
    ADVOCATE = "advocate"


class Performer(StrEnum):
    """Who does an agreed action (DIALOG+ step 3: the person, the clinician, or others)."""

    PERSON = "person"
    CLINICIAN = "clinician"
    OTHER = "other"


class ActionReview(StrEnum):
    """How an open action went, reviewed at the next session (clinical-domain §2.4)."""

    DONE = "done"
    PARTLY = "partly"
    NOT_DONE = "not-done"
    DROPPED = "dropped"


class Step(StrEnum):
    """The four solution-focused steps of DIALOG+ for each chosen domain (§2.1)."""

    UNDERSTANDING = "understanding"
    LOOKING_FORWARD = "looking-forward"
    EXPLORING_OPTIONS = "exploring-options"
    AGREEING_ACTIONS = "agreeing-actions"


class AgreementMethod(StrEnum):
    """How the person recorded their agreement with the plan (FR-37a)."""

    VERBAL = "verbal"
    WRITTEN = "written"
    ELECTRONIC = "electronic-signature"
    APP = "dialog-plus-app"


class CompletionReason(StrEnum):
    """Why a plan ends (FR-39: goals achieved and discharge need a pathway back)."""

    GOALS_ACHIEVED = "goals-achieved"
    DISCHARGED = "discharged"
    CARE_STARTED = "care-started"
    TRANSFERRED = "transferred"
    OTHER = "other"


class ReviewOutcome(StrEnum):
    """The outcome of a care-plan review (FR-42)."""

    CONTINUE = "continue"
    REVISE = "revise"
    PREPARE_DISCHARGE = "prepare-discharge"


class CrisisOption(StrEnum):
    """Crisis alternatives to A&E a person can prefer (FR-43, Q-CRI-01, Q-CRI-06)."""

    CRISIS_LINE = "crisis-line"
    CRISIS_CAFE = "crisis-cafe"
    CRISIS_HOUSE = "crisis-house"
    MHCAS = "mhcas"
    CRHTT = "crhtt"


class Funding(StrEnum):
    """Funding flags a plan carries (FR-51)."""

    S117 = "s117-aftercare"
    CHC = "chc"


class BudgetType(StrEnum):
    """How a personal health budget is held (FR-51)."""

    DIRECT_PAYMENT = "direct-payment"
    NOTIONAL = "notional"
    THIRD_PARTY = "third-party"
