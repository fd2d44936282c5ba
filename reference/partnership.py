"""The North London Mental Health Partnership as data (requirements section 7.2, FR-77)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache


class Borough(StrEnum):
    """The five North Central London boroughs (000:1200)."""

    BARNET = "barnet"
    CAMDEN = "camden"
    ENFIELD = "enfield"
    HARINGEY = "haringey"
    ISLINGTON = "islington"


class ServiceType(StrEnum):
    """Kinds of service, each with its clinical-model level (section 7.2)."""

    GP = "gp"
    SPA = "spa"
    CORE_CMHT = "core-cmht"
    PSYCHOSIS_REHAB = "intensive-psychosis-rehab"
    EIP = "early-intervention-psychosis"
    MOOD_ANXIETY = "intensive-mood-anxiety"
    PERSONALITY_DISORDER = "intensive-personality-disorder"
    EATING_DISORDERS = "intensive-eating-disorders"
    CRISIS_LINE = "crisis-line"
    MHCAS = "mhcas"
    CRHTT = "crhtt"
    CRISIS_HOUSE = "crisis-house"
    CRISIS_CAFE = "crisis-cafe"
    LIAISON = "hospital-liaison"
    PLACE_OF_SAFETY = "place-of-safety"
    ADULT_ACUTE = "inpatient-adult-acute"
    PICU = "inpatient-picu"
    CYPMHS = "cypmhs"
    TRANSITIONS = "transitions"
    SUBSTANCE_MISUSE = "substance-misuse"
    PERINATAL = "perinatal"
    ADHD = "ndd-adhd"
    AUTISM = "ndd-autism"
    PANEL = "complex-case-panel"
    DIABETES = "diabetes"
    VCSE = "vcse"
    HOUSING = "housing-benefits-advice"


LEVEL: dict[ServiceType, int] = {
    ServiceType.GP: 1,
    ServiceType.SPA: 2,
    ServiceType.CORE_CMHT: 3,
    ServiceType.SUBSTANCE_MISUSE: 3,
    ServiceType.PERINATAL: 3,
    ServiceType.ADHD: 3,
    ServiceType.AUTISM: 3,
    ServiceType.TRANSITIONS: 3,
    ServiceType.CYPMHS: 3,
    ServiceType.PANEL: 3,
    ServiceType.PSYCHOSIS_REHAB: 5,
    ServiceType.EIP: 5,
    ServiceType.MOOD_ANXIETY: 5,
    ServiceType.PERSONALITY_DISORDER: 5,
    ServiceType.EATING_DISORDERS: 5,
    ServiceType.CRISIS_LINE: 6,
    ServiceType.MHCAS: 6,
    ServiceType.CRHTT: 6,
    ServiceType.CRISIS_HOUSE: 6,
    ServiceType.CRISIS_CAFE: 6,
    ServiceType.LIAISON: 6,
    ServiceType.PLACE_OF_SAFETY: 6,
    ServiceType.ADULT_ACUTE: 7,
    ServiceType.PICU: 7,
    ServiceType.DIABETES: 1,
    ServiceType.VCSE: 1,
    ServiceType.HOUSING: 1,
}

CRISIS_CONTACTS = (
    "NCL 24/7 crisis line: 0800 151 0023 (or NHS 111, option 2)",
    "Your borough crisis café (open access, no referral needed)",
    "In an emergency call 999 or go to A&E",
)


@dataclass(frozen=True)
class Organization:
    """A trust, partnership or external organisation."""

    id: str
    name: str
    internal: bool
    part_of: str | None = None
    ods_code: str | None = None


@dataclass(frozen=True)
class WaitingWell:
    """A service's waiting-well information (FR-16), from the one standard template."""

    version: str
    text: str


@dataclass(frozen=True)
class Team:
    """A HealthcareService: a team or service that can receive referrals."""

    id: str
    name: str
    type: ServiceType
    organization: str
    borough: Borough | None
    accepts_self_referral: bool = False
    decision_sla_days: int = 5
    decision_sla_level2_days: int = 10
    wait_target_days: int | None = None
    expected_wait_days: int | None = None
    waiting_well: WaitingWell | None = None
    panel_capacity: int = 1
    max_planned_days: int | None = None
    required_referral_fields: tuple[str, ...] = ()
    response_target_hours: dict[str, float] = field(default_factory=dict)

    @property
    def level(self) -> int:
        """The clinical-model level (1 primary care … 7 inpatient)."""
        return LEVEL[self.type]


@dataclass(frozen=True)
class Role:
    """A PractitionerRole: a named worker in a team, with what they may do."""

    id: str
    practitioner_name: str
    team: str
    organization: str
    codes: tuple[str, ...] = ("clinician",)


TRUST_FOR: dict[Borough, str] = {
    Borough.BARNET: "beh",
    Borough.ENFIELD: "beh",
    Borough.HARINGEY: "beh",
    Borough.CAMDEN: "ci",
    Borough.ISLINGTON: "ci",
}

# Boroughs where the partnership runs CYPMHS itself (000:1479); Camden and Islington are
# served by another provider, whose referrals arrive through the gateway.
NLMHP_CYPMHS = (Borough.BARNET, Borough.ENFIELD, Borough.HARINGEY)

_FIRST_NAMES = ("Amara", "Ben", "Chidi", "Dana", "Elif", "Farah", "Gus", "Hana", "Imran", "Jo")


def _waiting_well(team_name: str) -> WaitingWell:
    text = (
        f"While you wait for {team_name}: the team that referred you keeps supporting you and will "
        "stay in touch. If things get worse, contact your named worker or the crisis contacts below. "
        "Good Thinking (goodthinking.uk) offers free self-help while you wait."
    )
    return WaitingWell(version="2026-02", text=text)


def _team(id_: str, name: str, type_: ServiceType, org: str, borough: Borough | None, **kw: object) -> Team:
    waiting_well = _waiting_well(name)
    return Team(id_, name, type_, org, borough, waiting_well=waiting_well, **kw)  # type: ignore[arg-type]


def _organizations() -> list[Organization]:
    orgs = [
        Organization("nlmhp", "North London Mental Health Partnership", True),
        Organization("beh", "Barnet, Enfield and Haringey Mental Health NHS Trust", True, "nlmhp", "RRP"),
        Organization("ci", "Camden and Islington NHS Foundation Trust", True, "nlmhp", "RRV"),
        Organization("whittington", "Whittington Health NHS Trust", False, None, "RKE"),
        Organization("royal-free", "Royal Free London NHS Foundation Trust", False, None, "RAL"),
        Organization("las", "London Ambulance Service NHS Trust", False, None, "RRU"),
        Organization("met-police", "Metropolitan Police Service", False),
        Organization("mind-ncl", "Mind in North Central London (VCSE)", False),
    ]
    for b in Borough:
        orgs.append(Organization(f"{b}-gp-practice", f"{b.title()} Health Centre (GP practice)", False))
        orgs.append(Organization(f"{b}-council", f"London Borough of {b.title()}", False))
    return orgs


def _teams() -> list[Team]:
    teams: list[Team] = []
    for b in Borough:
        trust, title = TRUST_FOR[b], b.title()
        teams += [
            _team(
                f"{b}-spa",
                f"{title} Single Point of Access",
                ServiceType.SPA,
                trust,
                b,
                accepts_self_referral=True,
                decision_sla_days=2,
                expected_wait_days=3,
            ),
            _team(
                f"{b}-core-north",
                f"{title} Core Community Mental Health Team North",
                ServiceType.CORE_CMHT,
                trust,
                b,
                wait_target_days=28,
                expected_wait_days=21,
            ),
            _team(
                f"{b}-core-south",
                f"{title} Core Community Mental Health Team South",
                ServiceType.CORE_CMHT,
                trust,
                b,
                wait_target_days=28,
                expected_wait_days=24,
            ),
            _team(
                f"{b}-psychosis",
                f"{title} Psychosis and Rehabilitation Team",
                ServiceType.PSYCHOSIS_REHAB,
                trust,
                b,
                wait_target_days=28,
                expected_wait_days=35,
            ),
            _team(
                f"{b}-eip",
                f"{title} Early Intervention in Psychosis",
                ServiceType.EIP,
                trust,
                b,
                wait_target_days=14,
                expected_wait_days=12,
            ),
            _team(
                f"{b}-mood-anxiety",
                f"{title} Mood and Anxiety Team",
                ServiceType.MOOD_ANXIETY,
                trust,
                b,
                wait_target_days=28,
                expected_wait_days=42,
            ),
            _team(
                f"{b}-personality",
                f"{title} Personality Disorder Service",
                ServiceType.PERSONALITY_DISORDER,
                trust,
                b,
                wait_target_days=28,
                expected_wait_days=56,
            ),
            _team(
                f"{b}-crisis-cafe",
                f"{title} Crisis Café",
                ServiceType.CRISIS_CAFE,
                trust,
                b,
                accepts_self_referral=True,
                decision_sla_days=1,
            ),
            _team(
                f"{b}-crhtt",
                f"{title} Crisis Resolution and Home Treatment Team",
                ServiceType.CRHTT,
                trust,
                b,
                decision_sla_days=1,
                response_target_hours={"asap": 4, "urgent": 24},
            ),
            _team(
                f"{b}-transitions",
                f"{title} Transitions Team",
                ServiceType.TRANSITIONS,
                trust,
                b,
                expected_wait_days=14,
            ),
            _team(
                f"{b}-substance-misuse",
                f"{title} Substance Misuse Service",
                ServiceType.SUBSTANCE_MISUSE,
                trust,
                b,
                accepts_self_referral=True,
                expected_wait_days=10,
            ),
            _team(f"{b}-gp", f"{title} Health Centre", ServiceType.GP, f"{b}-gp-practice", b),
            _team(
                f"{b}-housing-advice",
                f"{title} Housing and Benefits Advice",
                ServiceType.HOUSING,
                f"{b}-council",
                b,
                accepts_self_referral=True,
            ),
        ]
        if b in NLMHP_CYPMHS:
            teams.append(
                _team(
                    f"{b}-cypmhs",
                    f"{title} CYPMHS",
                    ServiceType.CYPMHS,
                    trust,
                    b,
                    wait_target_days=28,
                    expected_wait_days=30,
                )
            )
        else:
            teams.append(
                _team(
                    f"{b}-cypmhs",
                    f"{title} CYPMHS (Whittington Health)",
                    ServiceType.CYPMHS,
                    "whittington",
                    b,
                    wait_target_days=28,
                )
            )
    teams += [
        _team(
            "ncl-crisis-line",
            "NCL 24/7 Crisis Line (NHS 111 option 2)",
            ServiceType.CRISIS_LINE,
            "beh",
            None,
            accepts_self_referral=True,
            decision_sla_days=1,
        ),
        _team(
            "ncl-mhcas",
            "Mental Health Crisis Assessment Service",
            ServiceType.MHCAS,
            "beh",
            None,
            accepts_self_referral=True,
            decision_sla_days=1,
        ),
        _team(
            "ncl-crisis-house",
            "NCL Crisis House",
            ServiceType.CRISIS_HOUSE,
            "ci",
            None,
            decision_sla_days=1,
            max_planned_days=14,
        ),
        _team(
            "ncl-liaison",
            "Hospital Liaison Psychiatry (Core 24)",
            ServiceType.LIAISON,
            "ci",
            None,
            decision_sla_days=1,
            response_target_hours={"stat": 1},
        ),
        _team(
            "ncl-place-of-safety",
            "Health-Based Place of Safety",
            ServiceType.PLACE_OF_SAFETY,
            "beh",
            None,
            decision_sla_days=1,
        ),
        _team(
            "beh-adult-acute",
            "BEH Adult Acute Inpatient Wards",
            ServiceType.ADULT_ACUTE,
            "beh",
            None,
            decision_sla_days=1,
        ),
        _team(
            "ci-adult-acute",
            "C&I Adult Acute Inpatient Wards",
            ServiceType.ADULT_ACUTE,
            "ci",
            None,
            decision_sla_days=1,
        ),
        _team(
            "ncl-picu",
            "NCL Psychiatric Intensive Care Unit",
            ServiceType.PICU,
            "beh",
            None,
            decision_sla_days=1,
        ),
        _team(
            "ncl-eating-disorders",
            "North London Adult Eating Disorders Service",
            ServiceType.EATING_DISORDERS,
            "beh",
            None,
            wait_target_days=28,
            expected_wait_days=28,
        ),
        _team(
            "ncl-perinatal",
            "NCL Perinatal Mental Health Service",
            ServiceType.PERINATAL,
            "beh",
            None,
            accepts_self_referral=True,
            wait_target_days=28,
            expected_wait_days=21,
        ),
        _team(
            "ncl-adhd",
            "NCL Adult ADHD Service",
            ServiceType.ADHD,
            "beh",
            None,
            wait_target_days=365,
            expected_wait_days=300,
        ),
        _team(
            "ncl-autism",
            "NCL Adult Autism Service",
            ServiceType.AUTISM,
            "ci",
            None,
            wait_target_days=365,
            expected_wait_days=280,
        ),
        _team(
            "ncl-complex-case-panel",
            "Complex Case Panel",
            ServiceType.PANEL,
            "nlmhp",
            None,
            panel_capacity=1,
            decision_sla_days=10,
            decision_sla_level2_days=20,
        ),
        _team("ncl-diabetes", "Royal Free Diabetes Service", ServiceType.DIABETES, "royal-free", None),
        _team(
            "ncl-vcse-support",
            "Mind in NCL Community Support",
            ServiceType.VCSE,
            "mind-ncl",
            None,
            accepts_self_referral=True,
        ),
    ]
    return teams


def _roles(teams: list[Team]) -> list[Role]:
    roles: list[Role] = []
    for i, team in enumerate(teams):
        first = _FIRST_NAMES[i % len(_FIRST_NAMES)]
        if team.type is ServiceType.GP:
            roles.append(Role(f"{team.id}-gp", f"Dr {first} Okafor", team.id, team.organization, ("gp",)))
            continue
        roles.append(Role(f"{team.id}-worker", f"{first} Patel", team.id, team.organization))
        roles.append(Role(f"{team.id}-worker-2", f"{first} Nowak", team.id, team.organization))
        roles.append(
            Role(
                f"{team.id}-lead",
                f"{first} Mensah",
                team.id,
                team.organization,
                ("clinician", "escalation-lead"),
            )
        )
    return roles


@dataclass(frozen=True)
class Directory:
    """The whole partnership directory, indexed for look-ups."""

    organizations: dict[str, Organization]
    teams: dict[str, Team]
    roles: dict[str, Role]

    def internal(self, team: Team) -> bool:
        """Whether a team belongs to the partnership (BEH, C&I or the partnership itself)."""
        return self.organizations[team.organization].internal

    def spa_for(self, borough: Borough | None) -> Team:
        """The Single Point of Access for a borough (Barnet's when the borough is unknown)."""
        return self.teams[f"{borough or Borough.BARNET}-spa"]

    def escalation_lead(self, team: Team) -> Role:
        """The role escalations about a team go to."""
        return self.roles[f"{team.id}-lead"]


@cache
def directory() -> Directory:
    """The partnership's reference directory."""
    teams = _teams()
    return Directory(
        organizations={o.id: o for o in _organizations()},
        teams={t.id: t for t in teams},
        roles={r.id: r for r in _roles(teams)},
    )


def check_directory(data: Directory) -> list[str]:
    """Configuration problems: a service with no waiting-well content (FR-16) or with mandatory
    referral fields of its own (FR-19: no team-specific referral forms)."""
    problems: list[str] = []
    for team in data.teams.values():
        if team.waiting_well is None or not team.waiting_well.text.strip():
            problems.append(f"{team.id}: no waiting-well information")
        if team.required_referral_fields:
            problems.append(f"{team.id}: adds mandatory referral fields {list(team.required_referral_fields)}")
    return problems
