"""Play a realistic population of the five boroughs through the partnership (`python -m gateway.simulate`).

Everything goes through a running gateway's public API, as the simulated systems would send it:

* each person is registered by their trust's EPR (`POST /epr/{beh|ci}/Patient`, a local number and
  an NHS number with a Modulus 11 check digit); some are known to both EPRs and are linked;
* they are on a core team's caseload (`EpisodeOfCare`); some are referred on to an intensive team
  in their borough, and that team accepts (with support while they wait), declines with a
  redirect, or has not decided yet; some accepted people have had a first contact;
* some people arrive from outside as BaRS messages (`POST /fhir/$process-message`) from a GP,
  an emergency department, the ambulance service, the police or a VCSE organisation; a few are
  new to services altogether;
* the EPR interface is subscribed to the events the EPRs record (`/epr/events`).

The run is deterministic for a seed, and idempotent: a second run with the same seed finds what
the first created (local and NHS numbers, referral identifiers, message ids) and adds nothing.
It only talks to a loopback gateway, and stops after `--max-seconds`.

The population figures are the seeds' where they exist (borough populations, requirements
section 7.2) and stated approximations otherwise; each table below says which.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import json
import logging
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from gateway.epr.inbox import TOPICS
from gateway.epr.senders import default_performer, referral_message, sender_of
from gateway.events import TOPIC
from gateway.identity import LOCAL_MRN, NHS_NUMBER, valid_nhs_number
from gateway.tables import EXT_BOROUGH
from reference.partnership import TRUST_FOR, Borough

log = logging.getLogger("continuum.simulate")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_CLIENTS_FILE = Path(__file__).resolve().parents[1] / "var" / "keys" / "dev-clients.json"
FHIR = {"Content-Type": "application/fhir+json"}
SD = "https://continuum.example.org/fhir/StructureDefinition"
CS = "https://continuum.example.org/fhir/CodeSystem"
EXT_DEPRIVATION = f"{SD}/deprivation-decile"
EXT_HEALTHCARE_SERVICE = f"{SD}/episode-healthcare-service"
EXT_ETHNIC = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
CS_ETHNIC = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
CS_SOURCE = f"{CS}/referral-source"
CS_CONTACT = f"{CS}/contact-purpose"
CS_MODE = f"{CS}/contact-mode"
SIMULATED_REFERRAL = "https://continuum.example.org/fhir/Id/simulated-referral"
MAX_PEOPLE = 5_000

# ---------------------------------------------------------------- the population

# Borough weights: 2021 census populations as the seeds give them (requirements section 7.2,
# 000:798-806). Note: the seeds give Camden the same figure as Enfield (330,500); the ONS 2021
# census figure for Camden is lower (about 210,000). The seeds' figures are used as they stand.
BOROUGH_POPULATION: dict[Borough, int] = {
    Borough.BARNET: 389_400,
    Borough.CAMDEN: 330_500,
    Borough.ENFIELD: 330_500,
    Borough.HARINGEY: 264_100,
    Borough.ISLINGTON: 216_100,
}

# Age bands of adults in contact with secondary mental health services, in per cent.
# [INFERRED] An approximation (working ages predominate, fewer over 75); not a figure from the
# seeds. Children and young people are out of this simulation (CYPMHS and transitions are not).
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (18, 24, 14.0),
    (25, 34, 23.0),
    (35, 44, 20.0),
    (45, 54, 17.0),
    (55, 64, 13.0),
    (65, 74, 7.5),
    (75, 95, 5.5),
)

# FHIR administrative gender, in per cent. [INFERRED] roughly even; a small share recorded as
# other or unknown so reports see every value.
SEX: tuple[tuple[str, float], ...] = (("female", 50.0), ("male", 48.5), ("other", 0.5), ("unknown", 1.0))

# NHS ethnic category (NHS Data Dictionary, 2001 census classification; UK Core
# EthnicCategoryEngland codes), in per cent. Approximate, rounded shares for the five NCL
# boroughs together, after the ONS Census 2021 ethnic group tables; they vary between boroughs.
# "Z" is "not stated" (the person declined: FR-78 counts it as complete); None leaves the
# element out (missing).
ETHNIC_CATEGORIES: tuple[tuple[str | None, str, float], ...] = (
    ("A", "White - British", 38.0),
    ("B", "White - Irish", 2.5),
    ("C", "White - Any other White background", 20.5),
    ("D", "Mixed - White and Black Caribbean", 1.5),
    ("E", "Mixed - White and Black African", 1.0),
    ("F", "Mixed - White and Asian", 1.5),
    ("G", "Mixed - Any other mixed background", 2.0),
    ("H", "Asian or Asian British - Indian", 5.0),
    ("J", "Asian or Asian British - Pakistani", 1.0),
    ("K", "Asian or Asian British - Bangladeshi", 2.5),
    ("L", "Asian or Asian British - Any other Asian background", 4.0),
    ("M", "Black or Black British - Caribbean", 2.5),
    ("N", "Black or Black British - African", 6.0),
    ("P", "Black or Black British - Any other Black background", 1.5),
    ("R", "Other Ethnic Groups - Chinese", 1.5),
    ("S", "Other Ethnic Groups - Any other ethnic group", 6.5),
    ("Z", "Not stated", 1.5),
    (None, "(not recorded)", 1.0),
)

# Index of Multiple Deprivation decile (1 = most deprived 10% of England) of where people live,
# per borough, in per cent of weight. [INFERRED] Indicative shapes after the English Indices of
# Deprivation 2019 borough summaries: Islington and Haringey have many neighbourhoods in the most
# deprived deciles, Barnet comparatively few. Not figures from the seeds.
DEPRIVATION: dict[Borough, tuple[float, ...]] = {
    Borough.BARNET: (3, 6, 8, 10, 11, 12, 13, 13, 12, 12),
    Borough.CAMDEN: (8, 12, 13, 12, 11, 10, 9, 9, 8, 8),
    Borough.ENFIELD: (12, 15, 13, 12, 10, 9, 8, 8, 7, 6),
    Borough.HARINGEY: (14, 17, 15, 12, 10, 8, 7, 6, 6, 5),
    Borough.ISLINGTON: (12, 20, 18, 14, 10, 8, 7, 5, 3, 3),
}

# Postcode districts in each borough (outward codes only: the simulation keeps no addresses).
POSTCODE_DISTRICTS: dict[Borough, tuple[str, ...]] = {
    Borough.BARNET: ("N2", "N3", "N11", "N12", "N20", "NW4", "NW7", "NW9", "EN4", "EN5"),
    Borough.CAMDEN: ("NW1", "NW3", "NW5", "NW6", "WC1", "N6"),
    Borough.ENFIELD: ("EN1", "EN2", "EN3", "N9", "N13", "N14", "N18", "N21"),
    Borough.HARINGEY: ("N4", "N8", "N10", "N15", "N17", "N22"),
    Borough.ISLINGTON: ("N1", "N5", "N7", "N19", "EC1"),
}

FAMILY_NAMES = (
    "Adeyemi", "Ahmed", "Ali", "Begum", "Brown", "Chen", "Clarke", "Costa", "Demir", "Evans",
    "Francis", "Ghosh", "Green", "Hassan", "Hughes", "Ibrahim", "Jones", "Kaur", "Kowalski", "Lewis",
    "Mensah", "Murphy", "Nowak", "Okafor", "O'Brien", "Patel", "Rossi", "Shah", "Smith", "Taylor",
    "Williams", "Wilson", "Yilmaz", "Zhang",
)  # fmt: skip
GIVEN_NAMES = (
    "Aisha", "Alex", "Amir", "Ana", "Ben", "Chloe", "Daniel", "Deniz", "Ella", "Fatima", "George",
    "Grace", "Hannah", "Ivan", "James", "Jia", "Kemi", "Leila", "Liam", "Maria", "Mohammed", "Nadia",
    "Noah", "Olivia", "Priya", "Ravi", "Sam", "Sara", "Tom", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip

# How people move through services, in per cent. [INFERRED] Plausible shares for a demonstration;
# the seeds set no figures for them.
KNOWN_TO_SERVICES = 85.0  # the rest arrive from outside, new to services
KNOWN_TO_BOTH_EPRS = 15.0  # also registered by the other trust's EPR
REFERRED_TO_INTENSIVE = 40.0  # of those on a core caseload
DECISIONS: tuple[tuple[str, float], ...] = (("accept", 50.0), ("decline", 25.0), ("wait", 25.0))
CONTACT_AFTER_ACCEPT = 60.0
EXTERNAL_REFERRAL = 10.0  # of those known to services, an external referral too
SENDER_KINDS: tuple[tuple[str, float], ...] = (
    ("gp", 40.0),
    ("emergency-department", 20.0),
    ("ambulance", 10.0),
    ("police", 10.0),
    ("vcse", 20.0),
)
INTENSIVE_TEAMS: tuple[tuple[str, float], ...] = (
    ("psychosis", 30.0),
    ("eip", 20.0),
    ("mood-anxiety", 30.0),
    ("personality", 20.0),
)
REDIRECT = {"psychosis": "eip", "eip": "psychosis", "mood-anxiety": "personality", "personality": "mood-anxiety"}
REASONS = {
    "psychosis": "Persistent psychotic symptoms despite core team support",
    "eip": "Possible first episode of psychosis",
    "mood-anxiety": "Severe depression and anxiety not improving with core team interventions",
    "personality": "Repeated crises and self-harm; needs a specialist personality disorder pathway",
}
EXTERNAL_REASONS = {
    "gp": "Low mood and anxiety worsening over three months; not coping at work",
    "emergency-department": "Attended the emergency department after self-harm; medically fit for assessment",
    "ambulance": "Crew attended a mental health crisis at home; person agreed to a crisis team visit",
    "police": "Detained under section 136 of the Mental Health Act in a public place",
    "vcse": "Known to our community support service; increasingly withdrawn and missing sessions",
}
PRIORITY = {
    "gp": "routine",
    "emergency-department": "stat",
    "ambulance": "urgent",
    "police": "urgent",
    "vcse": "routine",
}


def _pick(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o[0] for o in options], weights=[o[1] for o in options], k=1)[0]


def with_check_digit(nine: str) -> str | None:
    """A 10-digit NHS number from 9 digits (Modulus 11); None when no check digit exists."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return None
    return f"{nine}{check}"


def nhs_number(rng: random.Random) -> str:
    """A synthetic NHS number in the 999 range (the range commonly used for test data)."""
    while True:
        number = with_check_digit(f"999{rng.randrange(1_000_000):06d}")
        if number is not None:
            assert valid_nhs_number(number)
            return number


def local_number(seed: int, index: int, instance: str) -> str:
    """An EPR's local number for a simulated person (stable for the seed, distinct across seeds)."""
    digest = hashlib.sha256(f"{seed}:{index}:{instance}".encode()).hexdigest()
    return f"{instance.upper()}{int(digest[:12], 16) % 10**9:09d}"


@dataclass(frozen=True)
class Person:
    """One simulated person: who they are, where they live, and their journey through services."""

    index: int
    nhs_number: str
    given: str
    family: str
    gender: str
    birth_date: date
    borough: Borough
    ethnic: tuple[str, str] | None
    deprivation: int
    postcode: str
    gp_registered: bool
    numbers: dict[str, str]  # EPR instance -> local number (home trust first; none when new to services)
    core_team: str | None  # None: new to services (arrives by an external referral)
    intensive: str | None = None
    decision: str | None = None
    contact: bool = False
    external: str | None = None  # the kind of sender

    @property
    def trust(self) -> str:
        """The person's responsible trust (the EPR that registers them)."""
        return TRUST_FOR[self.borough]

    def patient(self, instance: str | None = None) -> dict[str, Any]:
        """The Patient an EPR (or, without `instance`, an external sender) holds."""
        identifiers = [{"system": NHS_NUMBER, "value": self.nhs_number}]
        if instance is not None:
            identifiers.insert(0, {"system": LOCAL_MRN[instance], "value": self.numbers[instance]})
        extensions: list[dict[str, Any]] = [
            {"url": EXT_BOROUGH, "valueCode": self.borough.value},
            {"url": EXT_DEPRIVATION, "valueInteger": self.deprivation},
        ]
        if self.ethnic is not None:
            code, display = self.ethnic
            extensions.append(
                {
                    "url": EXT_ETHNIC,
                    "valueCodeableConcept": {"coding": [{"system": CS_ETHNIC, "code": code, "display": display}]},
                }
            )
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"use": "official", "family": self.family, "given": [self.given]}],
            "gender": self.gender,
            "birthDate": self.birth_date.isoformat(),
            "address": [
                {"use": "home", "district": self.borough.title(), "city": "London", "postalCode": self.postcode}
            ],
            "extension": extensions,
        }
        if self.gp_registered:
            resource["generalPractitioner"] = [{"reference": f"Organization/{self.borough.value}-gp-practice"}]
        return resource


def population(seed: int, people: int, as_of: date) -> list[Person]:
    """The people of one run: the same seed, size and date always give the same people."""
    if not 0 < people <= MAX_PEOPLE:
        raise ValueError(f"people must be between 1 and {MAX_PEOPLE}")
    rng = random.Random(seed)
    boroughs = [(b, float(n)) for b, n in BOROUGH_POPULATION.items()]
    used: set[str] = set()
    found: list[Person] = []
    for index in range(people):
        borough: Borough = _pick(rng, boroughs)
        low, high, _ = _pick(rng, [((lo, hi, w), w) for lo, hi, w in AGE_BANDS])
        age = rng.randint(low, high)
        # Born on one of the 365 days that make someone `age` on `as_of`.
        birth = as_of.replace(year=as_of.year - age - 1, day=1) + timedelta(days=rng.randrange(1, 366))
        if age_on(birth, as_of) != age:
            birth = as_of.replace(year=as_of.year - age, day=1)
        number = nhs_number(rng)
        while number in used:
            number = nhs_number(rng)
        used.add(number)
        code, display, _ = _pick(rng, [((c, d, w), w) for c, d, w in ETHNIC_CATEGORIES])
        deprivation = _pick(rng, [(decile, w) for decile, w in enumerate(DEPRIVATION[borough], start=1)])
        trust = TRUST_FOR[borough]
        other = "ci" if trust == "beh" else "beh"
        known = rng.random() * 100 < KNOWN_TO_SERVICES
        both = rng.random() * 100 < KNOWN_TO_BOTH_EPRS
        numbers = {trust: local_number(seed, index, trust)} if known else {}
        if known and both:
            numbers[other] = local_number(seed, index, other)
        person: dict[str, Any] = {
            "index": index,
            "nhs_number": number,
            "given": rng.choice(GIVEN_NAMES),
            "family": rng.choice(FAMILY_NAMES),
            "gender": _pick(rng, SEX),
            "birth_date": birth,
            "borough": borough,
            "ethnic": (code, display) if code else None,
            "deprivation": deprivation,
            "postcode": rng.choice(POSTCODE_DISTRICTS[borough]),
            "gp_registered": rng.random() < 0.95,
            "numbers": numbers,
            "core_team": f"{borough.value}-core-{rng.choice(('north', 'south'))}" if known else None,
        }
        referred = rng.random() * 100 < REFERRED_TO_INTENSIVE
        intensive: str = _pick(rng, INTENSIVE_TEAMS)
        if intensive == "eip" and age > 35:
            intensive = "psychosis"  # early intervention is for a first episode, mostly in young adults
        decision: str = _pick(rng, DECISIONS)
        contact = rng.random() * 100 < CONTACT_AFTER_ACCEPT
        external_too = rng.random() * 100 < EXTERNAL_REFERRAL
        sender: str = _pick(rng, SENDER_KINDS)
        if known and referred:
            person.update(intensive=intensive, decision=decision, contact=decision == "accept" and contact)
        if not known or external_too:
            person["external"] = sender
        found.append(Person(**person))
    return found


# ---------------------------------------------------------------- playing it through the API


class SimulationError(Exception):
    """A step the gateway refused; the person's journey stops there."""


@dataclass
class Report:
    """What a run did."""

    seed: int
    people: int
    counts: Counter[str] = field(default_factory=Counter)
    demographics: dict[str, Counter[str]] = field(default_factory=dict)
    patients: dict[int, str] = field(default_factory=dict)  # person index -> Patient id
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "seed": self.seed,
            "people": self.people,
            "counts": dict(sorted(self.counts.items())),
            "demographics": {k: dict(sorted(v.items())) for k, v in self.demographics.items()},
            "errors": self.errors,
        }


class Simulator:
    """Plays people through a gateway's public API with an httpx client."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], seed: int, report: Report) -> None:
        self.client = client
        self.headers = headers
        self.seed = seed
        self.report = report

    async def _send(self, method: str, url: str, expect: tuple[int, ...], **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        response = await self.client.request(method, url, headers=headers, **kw)
        if response.status_code not in expect:
            raise SimulationError(f"{method} {url} -> {response.status_code}: {response.text[:300]}")
        return response

    async def _search(self, kind: str, **params: str) -> list[dict[str, Any]]:
        response = await self._send("GET", f"/fhir/{kind}", (200,), params=params)
        return [e["resource"] for e in response.json().get("entry", []) if e.get("search", {}).get("mode") == "match"]

    async def subscribe(self) -> None:
        """Subscribe the EPR interface to the topics the EPRs record (once)."""
        endpoint = f"{str(self.client.base_url).rstrip('/')}/epr/events"
        existing = await self._search("Subscription", url=endpoint, _count="500")
        have = {str(s.get("criteria", "")).rsplit("/", 1)[-1] for s in existing if s.get("status") == "active"}
        for topic in TOPICS:
            if topic in have:
                continue
            body = {
                "resourceType": "Subscription",
                "status": "requested",
                "reason": f"The simulated EPRs record {topic} events",
                "criteria": f"{TOPIC}/{topic}",
                "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/json"},
            }
            await self._send("POST", "/fhir/Subscription", (201,), json=body, headers=FHIR)
            self.report.counts["subscriptions created"] += 1

    async def register(self, person: Person) -> str:
        """Register the person at their trust's EPR (and at the other one when both know them)."""
        patient_id = ""
        for instance in person.numbers:
            response = await self._send(
                "POST", f"/epr/{instance}/Patient", (200, 201), json=person.patient(instance), headers=FHIR
            )
            self.report.counts[f"patients {response.headers.get('x-mpi-outcome', 'registered')}"] += 1
            found = str(response.json()["id"])
            if patient_id and found != patient_id:
                raise SimulationError(f"{instance} registered person {person.index} as another Patient")
            patient_id = found
        if len(person.numbers) == 2:
            self.report.counts["people known to both EPRs"] += 1
        return patient_id

    async def caseload(self, person: Person, patient: str) -> None:
        """Put the person on their core team's caseload (once)."""
        assert person.core_team is not None
        team = f"HealthcareService/{person.core_team}"
        if await self._search("EpisodeOfCare", patient=patient, team=team):
            return
        episode = {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": patient},
            "extension": [{"url": EXT_HEALTHCARE_SERVICE, "valueReference": {"reference": team}}],
        }
        await self._send("POST", "/fhir/EpisodeOfCare", (201,), json=episode, headers=FHIR)
        self.report.counts["caseload episodes opened"] += 1

    async def refer(self, person: Person, patient: str) -> None:
        """A core-team referral to an intensive team, and that team's decision."""
        assert person.core_team is not None
        assert person.intensive is not None
        borough = person.borough.value
        worker = f"PractitionerRole/{person.core_team}-worker"
        team = f"{borough}-{person.intensive}"
        identifier = f"{self.seed}-{person.index}-{person.intensive}"
        body = {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": SIMULATED_REFERRAL, "value": identifier}],
            "status": "active",
            "intent": "order",
            "subject": {"reference": patient},
            "requester": {"reference": worker},
            "performer": [{"reference": f"HealthcareService/{team}"}],
            "reasonCode": [{"text": REASONS[person.intensive]}],
            "category": [{"coding": [{"system": CS_SOURCE, "code": "internal-team"}]}],
        }
        headers = {**FHIR, "If-None-Exist": f"identifier={SIMULATED_REFERRAL}|{identifier}"}
        response = await self._send("POST", "/fhir/ServiceRequest", (200, 201), json=body, headers=headers)
        referral = response.json()
        if response.status_code == 201:
            self.report.counts["internal referrals"] += 1
        tasks = await self._search("Task", focus=f"ServiceRequest/{referral['id']}", code="referral")
        if not tasks:
            raise SimulationError(f"ServiceRequest/{referral['id']} has no referral Task")
        task = tasks[0]
        state = task["businessStatus"]["coding"][0]["code"]
        if state == "received" and person.decision in ("accept", "decline"):
            operation, parameters = self._decision(person, team, worker)
            await self._send(
                "POST",
                f"/fhir/Task/{task['id']}/${operation}",
                (200,),
                json=parameters,
                headers={**FHIR, "If-Match": f'W/"{task["meta"]["versionId"]}"'},
            )
            state = "accepted-waiting" if operation == "accept" else "redirected"
            self.report.counts[
                "referrals accepted with waiting support"
                if operation == "accept"
                else "referrals declined with a redirect"
            ] += 1
        elif state == "received":
            self.report.counts["referrals awaiting a decision"] += 1
        if state == "accepted-waiting" and person.contact:
            await self.contact(referral, patient)

    def _decision(self, person: Person, team: str, worker: str) -> tuple[str, dict[str, Any]]:
        assert person.intensive is not None
        actor = {"name": "actor", "valueReference": {"reference": f"PractitionerRole/{team}-worker"}}
        if person.decision == "accept":
            return "accept", {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "waitingSupport", "valueReference": {"reference": worker}},
                    {
                        "name": "supportOffered",
                        "valueString": "Fortnightly calls from the core team worker, and the peer support group",
                    },
                    actor,
                ],
            }
        destination = f"HealthcareService/{person.borough.value}-{REDIRECT[person.intensive]}"
        # The assessment a decline cites lives in the receiving team's record; the simulation
        # names it without creating it.
        assessment = f"QuestionnaireResponse/simulated-assessment-{self.seed}-{person.index}"
        return "decline", {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "reason", "valueCode": "needs-better-met-elsewhere"},
                {
                    "name": "rationale",
                    "valueString": "The assessment shows the person's needs are best met by another team",
                },
                {"name": "assessment", "valueReference": {"reference": assessment}},
                {"name": "nextStep", "valueCode": "redirect"},
                {"name": "destination", "valueReference": {"reference": destination}},
                actor,
            ],
        }

    async def contact(self, referral: dict[str, Any], patient: str) -> None:
        """A first face-to-face assessment against an accepted referral (once)."""
        if await self._search("Encounter", **{"based-on": f"ServiceRequest/{referral['id']}"}):
            return
        received = next(
            (
                e.get("valueDateTime")
                for e in referral.get("extension", [])
                if e.get("url", "").endswith("/referral-received-at")
            ),
            None,
        )
        encounter = {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [
                {"coding": [{"system": CS_MODE, "code": "face-to-face"}]},
                {"coding": [{"system": CS_CONTACT, "code": "assessment"}]},
            ],
            "subject": {"reference": patient},
            "basedOn": [{"reference": f"ServiceRequest/{referral['id']}"}],
            "period": {"start": received or referral.get("authoredOn")},
        }
        await self._send("POST", "/fhir/Encounter", (201,), json=encounter, headers=FHIR)
        self.report.counts["contacts recorded"] += 1

    async def external(self, person: Person, now: datetime) -> str:
        """A BaRS referral message from an external sender; returns the Patient it is about."""
        assert person.external is not None
        kind = person.external
        sender = sender_of(kind, person.borough)
        bundle_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"continuum-simulation/{self.seed}/{person.index}/{kind}"))
        message = referral_message(
            sender,
            person.patient(),
            default_performer(kind, person.borough),
            EXTERNAL_REASONS[kind],
            now=now,
            bundle_id=bundle_id,
            priority=PRIORITY[kind],
        )
        response = await self._send("POST", "/fhir/$process-message", (200,), json=message, headers=FHIR)
        answer = response.json()
        if answer["entry"][0]["resource"]["response"]["code"] != "ok":
            raise SimulationError(f"message {bundle_id} was not accepted")
        self.report.counts[f"BaRS referrals acknowledged from {kind}"] += 1
        reference: str = answer["entry"][1]["resource"]["subject"]["reference"]
        return reference.removeprefix("Patient/")

    async def play(self, person: Person, now: datetime) -> None:
        """One person's journey; a refused step ends it and is reported."""
        try:
            patient_id = ""
            if person.core_team is not None:
                patient_id = await self.register(person)
                patient = f"Patient/{patient_id}"
                await self.caseload(person, patient)
                if person.intensive is not None:
                    await self.refer(person, patient)
            if person.external is not None:
                patient_id = await self.external(person, now)
            self.report.patients[person.index] = patient_id
        except (SimulationError, httpx.HTTPError, KeyError, ValueError) as error:
            self.report.errors.append(f"person {person.index}: {error}")


def age_on(birth: date, day: date) -> int:
    """Age in whole years on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def describe(people: list[Person], as_of: date) -> dict[str, Counter[str]]:
    """The population by borough, sex, age band, ethnic category and deprivation decile."""

    def band(person: Person) -> str:
        age = age_on(person.birth_date, as_of)
        for low, high, _ in AGE_BANDS:
            if low <= age <= high:
                return f"{low}-{high}"
        return f"{AGE_BANDS[-1][1]}+" if age > AGE_BANDS[-1][1] else f"under {AGE_BANDS[0][0]}"

    return {
        "borough": Counter(p.borough.value for p in people),
        "sex": Counter(p.gender for p in people),
        "age": Counter(band(p) for p in people),
        "ethnicCategory": Counter(p.ethnic[0] if p.ethnic else "missing" for p in people),
        "deprivationDecile": Counter(str(p.deprivation) for p in people),
    }


def credentials(clients_file: Path | None, client_id: str) -> tuple[str, str] | None:
    """A development client's id and secret (`var/keys/dev-clients.json`), or None without the file."""
    if clients_file is None or not clients_file.exists():
        log.warning("no client credentials (%s): calling without a token", clients_file)
        return None
    clients = json.loads(clients_file.read_text())
    if client_id not in clients:
        raise SimulationError(f"{clients_file} has no client {client_id!r}")
    return client_id, str(clients[client_id]["secret"])


async def authorization(client: httpx.AsyncClient, client_credentials: tuple[str, str] | None) -> dict[str, str]:
    """An Authorization header from the gateway's token endpoint (none when tokens are off)."""
    if client_credentials is None:
        return {}
    client_id, secret = client_credentials
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = await client.post("/auth/token", data=form)
    if response.status_code == 405:
        return {}  # this gateway issues no tokens (development without keys)
    if response.status_code != 200:
        raise SimulationError(f"the token endpoint refused {client_id}: {response.status_code} {response.text[:200]}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def simulate(
    client: httpx.AsyncClient,
    *,
    people: int = 50,
    seed: int = 1,
    as_of: date | None = None,
    headers: dict[str, str] | None = None,
    subscribe: bool = True,
    max_seconds: float = 600.0,
    now: datetime | None = None,
) -> Report:
    """Play `people` people through the gateway `client` talks to; returns what was done."""
    today = as_of or datetime.now(UTC).date()
    crowd = population(seed, people, today)
    report = Report(seed, people, demographics=describe(crowd, today))
    simulator = Simulator(client, headers or {}, seed, report)
    moment = now or datetime.now(UTC)
    try:
        async with asyncio.timeout(max_seconds):
            if subscribe:
                await simulator.subscribe()
            for person in crowd:
                await simulator.play(person, moment)
    except TimeoutError:
        report.errors.append(f"stopped after {max_seconds:g} seconds")
    except SimulationError as error:
        report.errors.append(str(error))
    return report


def loopback(url: str) -> bool:
    """Whether a URL names this machine (the simulator never sends traffic elsewhere)."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (every option also has an environment variable)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m gateway.simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=env("CONTINUUM_SIMULATE_BASE_URL", DEFAULT_BASE_URL))
    parser.add_argument(
        "--clients-file", type=Path, default=Path(env("CONTINUUM_SIMULATE_CLIENTS_FILE", str(DEFAULT_CLIENTS_FILE)))
    )
    parser.add_argument("--client-id", default=env("CONTINUUM_SIMULATE_CLIENT_ID", "simulator"))
    parser.add_argument("--people", type=int, default=int(env("CONTINUUM_SIMULATE_PEOPLE", "50")))
    parser.add_argument("--seed", type=int, default=int(env("CONTINUUM_SIMULATE_SEED", "1")))
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="the date ages are counted from")
    parser.add_argument("--max-seconds", type=float, default=float(env("CONTINUUM_SIMULATE_MAX_SECONDS", "300")))
    parser.add_argument("--no-subscribe", action="store_true", help="do not subscribe the EPR interface")
    return parser.parse_args(argv)


async def run(options: argparse.Namespace, client_credentials: tuple[str, str] | None) -> Report:
    """Run against the gateway the options name."""
    timeout = httpx.Timeout(10.0)
    async with httpx.AsyncClient(base_url=options.base_url, timeout=timeout, trust_env=False) as client:
        headers = await authorization(client, client_credentials)
        return await simulate(
            client,
            people=options.people,
            seed=options.seed,
            as_of=options.as_of,
            headers=headers,
            subscribe=not options.no_subscribe,
            max_seconds=options.max_seconds,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when every journey completed, 1 when some failed, 2 for bad arguments."""
    options = arguments(argv)
    if not loopback(options.base_url):
        print(f"refusing {options.base_url}: the simulator only talks to a gateway on this machine", file=sys.stderr)
        return 2
    if not 0 < options.people <= MAX_PEOPLE:
        print(f"--people must be between 1 and {MAX_PEOPLE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        report = asyncio.run(run(options, credentials(options.clients_file, options.client_id)))
    except (SimulationError, httpx.HTTPError, OSError, ValueError, KeyError) as error:
        print(f"simulation failed: {error!r}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2))
    return 1 if report.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
