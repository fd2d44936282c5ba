"""Words for codes the API uses (presentation only: the referral service decides what is allowed).

The decline reasons offered are the ones the `decline-reason` code system lists as accepted
(docs/referrals.md, section 4.4). The codes the service always refuses, "refer back to the GP"
among them, are not offered; if one is sent anyway, the service's refusal is shown.
"""

from __future__ import annotations

from reference.partnership import Role, ServiceType, Team, directory

DECLINE_REASONS: tuple[tuple[str, str], ...] = (
    ("needs-better-met-elsewhere", "Needs are better met by another service"),
    ("assessed-needs-not-in-service-scope", "Assessed needs are not in this service's scope"),
    ("person-declined-service", "The person declined the service"),
    ("not-commissioned", "Not commissioned (name the commissioning rule)"),
    ("not-commissioned-brain-injury", "Not commissioned: brain injury"),
    ("advice-only-not-primarily-mental-illness", "Advice only: not primarily a mental illness (give advice)"),
    ("signpost-housing-benefits", "Signpost to housing or benefits advice (choose where)"),
)

NEXT_STEPS: tuple[tuple[str, str], ...] = (
    ("redirect", "Redirect to another team"),
    ("advice", "Give advice to the referrer"),
    ("signpost", "Signpost to another service"),
    ("escalate", "Escalate to the team lead"),
)

PRIORITIES = {"routine": "Routine", "urgent": "Urgent", "asap": "Very urgent", "stat": "Emergency"}

STATES = {
    "received": "Received",
    "triage": "In triage",
    "accepted-waiting": "Accepted: waiting",
    "declined": "Declined",
    "redirected": "Redirected",
    "advice-only": "Advice given",
    "signposted": "Signposted",
    "started": "Started",
    "closed": "Closed",
    "cancelled": "Cancelled",
}

SUPPORT = {
    "interim-support": "Support while waiting",
    "assessed-no-support-needed": "Assessed: no support needed",
    "none": "No support yet",
}


def roles_by_team() -> list[tuple[str, list[tuple[str, str]]]]:
    """The seeded PractitionerRoles, grouped by team (the development identity provider's list)."""
    data = directory()
    groups: dict[str, list[Role]] = {}
    for role in data.roles.values():
        groups.setdefault(role.team, []).append(role)
    return [
        (data.teams[team].name if team in data.teams else team, [(r.id, _role_label(r)) for r in roles])
        for team, roles in sorted(
            groups.items(), key=lambda kv: data.teams[kv[0]].name if kv[0] in data.teams else kv[0]
        )
    ]


def destinations() -> list[tuple[str, str]]:
    """Teams a referral can go to (GP practices are not offered: nobody is sent back to the GP)."""
    teams: list[Team] = [t for t in directory().teams.values() if t.type != ServiceType.GP]
    return sorted(((t.id, t.name) for t in teams), key=lambda pair: pair[1])


def role(role_id: str) -> Role | None:
    """A PractitionerRole of the directory."""
    return directory().roles.get(role_id)


def team_name(team_id: str) -> str:
    """A team's name."""
    team = directory().teams.get(team_id)
    return team.name if team else team_id


def _role_label(role: Role) -> str:
    kind = "team lead" if "escalation-lead" in role.codes else "clinician"
    return f"{role.practitioner_name} ({kind}, {role.id})"


BOROUGHS: tuple[tuple[str, str], ...] = tuple(
    (b, b.title()) for b in ("barnet", "camden", "enfield", "haringey", "islington")
)


def worklist_scope(team_id: str) -> dict[str, str]:
    """Whose transitions worklist a team sees: a CYPMHS team its own young people, a Transitions
    team its borough's (the gateway lets a clinician read only their own team's worklist)."""
    team = directory().teams.get(team_id)
    if team is None:
        return {}
    if team.type == ServiceType.CYPMHS:
        return {"service": team.id}
    if team.type == ServiceType.TRANSITIONS and team.borough is not None:
        return {"borough": str(team.borough)}
    return {}
