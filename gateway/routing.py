"""Which service owns which resource type, and how a request finds its owner.

Task and CarePlan belong to more than one service. A request about one resource goes to the
service that holds its id; a search goes to the service its discriminating parameter names
(`Task?code=`, `CarePlan?category=`), or to all of them, merged.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNERS: dict[str, tuple[str, ...]] = {
    "ServiceRequest": ("referrals",),
    "Encounter": ("referrals",),
    "EpisodeOfCare": ("referrals",),
    "Communication": ("referrals",),
    # Each service publishes and evaluates its own KPIs: a search merges them, and
    # `Measure/{id}/$evaluate-measure` goes to the service that answers for that id.
    "Measure": ("referrals", "careplans", "transitions"),
    "Task": ("referrals", "transitions"),
    "Questionnaire": ("careplans",),
    "QuestionnaireResponse": ("careplans", "transitions"),
    "Observation": ("careplans",),
    "Goal": ("careplans",),
    "CarePlan": ("careplans", "transitions"),
}

# The search parameter that tells a shared type's owners apart, and the owner of each value.
DISCRIMINATORS: dict[str, tuple[str, dict[str, str]]] = {
    "Task": (
        "code",
        {
            "referral": "referrals",
            "acceptance-decision-escalation": "referrals",
            "carer-concern": "referrals",
            "transition-case": "transitions",
            "transition-phase": "transitions",
            "transition-escalation": "transitions",
        },
    ),
    "QuestionnaireResponse": (
        "questionnaire",
        {
            "https://continuum.example.org/fhir/Questionnaire/dialog": "careplans",
            "https://continuum.example.org/fhir/Questionnaire/transition-feedback": "transitions",
        },
    ),
    "CarePlan": (
        "category",
        {
            "dialog-plus-personalised-plan": "careplans",
            "crisis": "careplans",
            "waiting-support": "careplans",
            "transition-plan": "transitions",
        },
    ),
}

# Type-level operations served by an owner other than the type's first.
TYPE_OPERATIONS: dict[tuple[str, str], str] = {
    ("Task", "$open-transition"): "transitions",
    ("Task", "$transition-worklist"): "transitions",
    ("Task", "$transition-overdue"): "transitions",
}

GATEWAY_TYPES = frozenset(
    {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "HealthcareService",
        "Location",
        "AuditEvent",
        "Subscription",
    }
)


@dataclass(frozen=True)
class Route:
    """Where a search goes: one service, or several to merge."""

    services: tuple[str, ...]

    @property
    def fan_out(self) -> bool:
        """Whether results from several services are merged."""
        return len(self.services) > 1


def search_route(resource_type: str, query: list[tuple[str, str]]) -> Route:
    """The services a search on `resource_type` goes to."""
    owners = OWNERS[resource_type]
    if len(owners) == 1 or resource_type not in DISCRIMINATORS:
        return Route(owners)
    name, by_value = DISCRIMINATORS[resource_type]
    values = [v for k, v in query if k.split(":")[0] == name]
    if not values:
        return Route(owners)
    chosen = {by_value.get(code.split("|")[-1]) for value in values for code in value.split(",")}
    chosen.discard(None)
    services = tuple(s for s in owners if s in chosen)
    return Route(services or owners[:1])
