"""The simulated population (`gateway.simulate`): who the people are, deterministically for a seed."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from gateway.identity import valid_nhs_number
from gateway.simulate import (
    AGE_BANDS,
    BOROUGH_POPULATION,
    ETHNIC_CATEGORIES,
    age_on,
    loopback,
    main,
    population,
    with_check_digit,
)
from reference.partnership import TRUST_FOR

AS_OF = date(2026, 1, 5)


def test_the_same_seed_gives_the_same_people_and_another_seed_others() -> None:
    assert population(11, 40, AS_OF) == population(11, 40, AS_OF)
    assert population(11, 40, AS_OF) != population(12, 40, AS_OF)
    # a longer run starts with the same people
    assert population(11, 60, AS_OF)[:40] == population(11, 40, AS_OF)


def test_nhs_numbers_carry_a_modulus_11_check_digit() -> None:
    assert with_check_digit("900000000") == "9000000009"
    assert with_check_digit("947671993") == "9476719931"
    assert with_check_digit("000000006") is None  # the check digit would be 10: no such number
    people = population(5, 2_000, AS_OF)
    numbers = [p.nhs_number for p in people]
    assert all(valid_nhs_number(n) and n.startswith("999") for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_local_numbers_belong_to_the_home_trust_first_and_are_distinct() -> None:
    people = population(5, 500, AS_OF)
    for person in people:
        if person.core_team is None:
            assert person.numbers == {}  # new to services: no EPR has registered them
            continue
        assert next(iter(person.numbers)) == TRUST_FOR[person.borough] == person.trust
        assert all(number.startswith(instance.upper()) for instance, number in person.numbers.items())
    every = [n for p in people for n in p.numbers.values()]
    assert len(set(every)) == len(every)


def test_the_population_follows_the_boroughs_and_the_stated_distributions() -> None:
    people = population(2026, 5_000, AS_OF)
    boroughs = Counter(p.borough for p in people)
    total = sum(BOROUGH_POPULATION.values())
    for borough, count in BOROUGH_POPULATION.items():
        assert abs(boroughs[borough] / len(people) - count / total) < 0.025, borough
    ages = [age_on(p.birth_date, AS_OF) for p in people]
    assert min(ages) >= AGE_BANDS[0][0]
    assert max(ages) <= AGE_BANDS[-1][1]
    codes = {c for c, _, _ in ETHNIC_CATEGORIES}
    assert {p.ethnic[0] if p.ethnic else None for p in people} == codes
    assert {p.gender for p in people} == {"female", "male", "other", "unknown"}

    # deprivation differs by borough: Islington's residents are more often in the most deprived deciles
    def most_deprived(borough: str) -> float:
        here = [p for p in people if p.borough == borough]
        return sum(p.deprivation <= 3 for p in here) / len(here)

    assert most_deprived("islington") > most_deprived("barnet") + 0.2
    # and the journeys: most people are on a caseload, some arrive from outside only
    on_caseload = sum(p.core_team is not None for p in people) / len(people)
    assert 0.8 < on_caseload < 0.9
    outside_only = [p for p in people if p.core_team is None]
    assert all(p.external is not None and p.intensive is None for p in outside_only)
    assert all(p.intensive != "eip" or age_on(p.birth_date, AS_OF) <= 35 for p in people)


def test_a_patient_resource_carries_the_equity_fields() -> None:
    person = next(p for p in population(3, 50, AS_OF) if p.ethnic and len(p.numbers) == 2)
    resource = person.patient(person.trust)
    systems = [i["system"] for i in resource["identifier"]]
    assert systems[0].endswith(f"{person.trust}-rio-mrn")
    assert systems[1] == "https://fhir.nhs.uk/Id/nhs-number"
    urls = {e["url"].rsplit("/", 1)[-1] for e in resource["extension"]}
    assert urls == {"borough", "deprivation-decile", "Extension-UKCore-EthnicCategory"}
    assert [i["system"] for i in person.patient()["identifier"]] == ["https://fhir.nhs.uk/Id/nhs-number"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://127.0.0.2", True),
        ("http://10.0.0.5:8080", False),
        ("https://continuum.example.org", False),
        ("not a url", False),
    ],
)
def test_the_simulator_only_talks_to_this_machine(url: str, allowed: bool) -> None:
    assert loopback(url) is allowed


def test_the_command_line_refuses_a_remote_gateway_and_a_silly_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base-url", "https://continuum.example.org"]) == 2
    assert "only talks to a gateway on this machine" in capsys.readouterr().err
    assert main(["--people", "0"]) == 2
