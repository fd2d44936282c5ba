"""The transition case as stored: a case Task, a Task per phase (partOf the case), and helpers every
step uses to read and change them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from reference.partnership import Role, Team
from services.kit.clock import instant
from services.kit.errors import PreconditionFailed, Unprocessable
from services.kit.fhir import coding_code, concept, ref, reference
from services.kit.repository import Stored
from services.transitions.domain import dates
from services.transitions.domain.codes import (
    CS_INPUT,
    CS_OUTPUT,
    CS_PHASE,
    CS_TASK,
    EXT_HIGH_RISK,
    TaskCode,
    parse_code,
)
from services.transitions.domain.phases import CASE_STATUS, DISPLAY, NUMBER, Phase
from services.transitions.persistence import tables
from services.transitions.persistence.tables import high_risk_of
from services.transitions.service.context import Context, new_id

OPEN_TASK_STATUSES = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")


def phase_concept(phase: Phase) -> dict[str, Any]:
    """The businessStatus of a case or phase Task in `phase`."""
    value = concept(CS_PHASE, phase.value, DISPLAY[phase])
    if phase in NUMBER:
        value["text"] = f"Phase {NUMBER[phase]} of 5"
    return value


def add_output(task: dict[str, Any], kind: str, **value: Any) -> None:
    """Append an output (`type` from the transition-task-output CodeSystem)."""
    task.setdefault("output", []).append({"type": concept(CS_OUTPUT, kind), **value})


def outputs(task: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Every output of a kind."""
    return [o for o in task.get("output") or [] if coding_code(o.get("type"), CS_OUTPUT) == kind]


def input_value(task: dict[str, Any], kind: str, key: str) -> Any:
    """The value of the first input of a kind."""
    for item in task.get("input") or []:
        if coding_code(item.get("type"), CS_INPUT) == kind:
            return item.get(key)
    return None


@dataclass
class Case:
    """A loaded case Task and what the steps read from it."""

    stored: Stored
    resource: dict[str, Any]

    @property
    def id(self) -> str:
        """The case id."""
        return self.stored.id

    @property
    def reference(self) -> str:
        """`Task/{id}`."""
        return f"Task/{self.stored.id}"

    @property
    def phase(self) -> Phase:
        """The case's current phase."""
        return parse_code(Phase, coding_code(self.resource.get("businessStatus"), CS_PHASE), "Task.businessStatus")

    @property
    def patient(self) -> str:
        """`Patient/{id}` of the young person."""
        return str(ref(self.resource.get("for")))

    @property
    def birth(self) -> date:
        """The young person's birth date, as known when the case opened."""
        return date.fromisoformat(input_value(self.resource, "birth-date", "valueDate"))

    @property
    def borough(self) -> str:
        """The borough of the sending CYPMHS team."""
        return str(input_value(self.resource, "borough", "valueCode"))

    @property
    def referring_worker(self) -> str:
        """`PractitionerRole/{id}` of the referring worker."""
        return str(ref(self.resource.get("requester")))

    @property
    def sending_service(self) -> str:
        """`HealthcareService/{id}` of the sending CYPMHS team."""
        return str((input_value(self.resource, "sending-service", "valueReference") or {}).get("reference"))

    @property
    def episode(self) -> str:
        """`EpisodeOfCare/{id}` of the CYPMHS episode."""
        return str((input_value(self.resource, "cyp-episode", "valueReference") or {}).get("reference"))

    @property
    def plan_id(self) -> str | None:
        """The transition plan's id, once the meeting has developed one."""
        focus = ref(self.resource.get("focus"))
        return focus.removeprefix("CarePlan/") if focus and focus.startswith("CarePlan/") else None

    @property
    def high_risk(self) -> bool:
        """Whether the case is flagged high risk (FR-60)."""
        return high_risk_of(self.resource)

    def age_band(self, on: date, ctx: Context) -> str:
        """The young person's age band on a date (FR-65)."""
        return dates.age_band(self.birth, on, ctx.thresholds)


async def load_case(ctx: Context, case_id: str, expected_version: int | None) -> Case:
    """A case Task, checked against `If-Match` (412 when stale); 422 for a Task that is not a case."""
    stored = await ctx.repo("Task").read(case_id)
    if expected_version is not None and expected_version != stored.version_id:
        raise PreconditionFailed(
            f'If-Match W/"{expected_version}" does not match the current version W/"{stored.version_id}"',
            "If-Match",
        )
    resource = stored.resource()
    if coding_code(resource.get("code"), CS_TASK) != TaskCode.CASE:
        raise Unprocessable(f"Task/{case_id} is not a transition case", "Task.code")
    return Case(stored, resource)


def new_case_task(
    ctx: Context,
    patient: str,
    birth: date,
    sending: Team,
    worker: Role,
    episode: str,
) -> dict[str, Any]:
    """The case Task of a new transition case, at phase 1."""
    return {
        "resourceType": "Task",
        "status": CASE_STATUS[Phase.DISCUSSION],
        "intent": "plan",
        "code": concept(CS_TASK, TaskCode.CASE, "Transition from children's to adult mental health services"),
        "businessStatus": phase_concept(Phase.DISCUSSION),
        "for": {"reference": patient},
        "requester": reference("PractitionerRole", worker.id, worker.practitioner_name),
        "owner": reference("HealthcareService", sending.id, sending.name),
        "authoredOn": instant(ctx.now),
        "lastModified": instant(ctx.now),
        "input": [
            {
                "type": concept(CS_INPUT, "sending-service"),
                "valueReference": reference("HealthcareService", sending.id, sending.name),
            },
            {"type": concept(CS_INPUT, "cyp-episode"), "valueReference": {"reference": episode}},
            {"type": concept(CS_INPUT, "borough"), "valueCode": str(sending.borough)},
            {"type": concept(CS_INPUT, "birth-date"), "valueDate": birth.isoformat()},
        ],
    }


async def phase_task(ctx: Context, case: Case, phase: Phase) -> Stored | None:
    """The Task of one phase of a case (None before the phase starts)."""
    t = tables.task
    found = await ctx.repo("Task").all_where(
        t.c.code == TaskCode.PHASE, t.c.part_of == case.reference, t.c.business_status == phase.value
    )
    return found[0] if found else None


async def start_phase(ctx: Context, case: Case, phase: Phase, owner: dict[str, Any], due: date | None = None) -> Stored:
    """Create (or resume) the Task of a phase."""
    existing = await phase_task(ctx, case, phase)
    if existing is not None:  # a reopened phase resumes its own Task
        resource = existing.resource()
        resource["status"] = "in-progress"
        resource["lastModified"] = instant(ctx.now)
        resource.get("executionPeriod", {}).pop("end", None)
        return await ctx.repo("Task").update(resource, existing, ctx.now)
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "in-progress",
        "intent": "plan",
        "code": concept(CS_TASK, TaskCode.PHASE, "A phase of a transition"),
        "businessStatus": phase_concept(phase),
        "partOf": [{"reference": case.reference}],
        "focus": {"reference": case.reference},
        "for": {"reference": case.patient},
        "owner": owner,
        "authoredOn": instant(ctx.now),
        "lastModified": instant(ctx.now),
        "executionPeriod": {"start": instant(ctx.now)},
    }
    if due is not None:
        task["restriction"] = {"period": {"end": due.isoformat()}}
    return await ctx.repo("Task").create(task, new_id(), ctx.now)


async def update_phase(
    ctx: Context, case: Case, phase: Phase, *items: tuple[str, dict[str, Any]], complete: bool = False
) -> Stored:
    """Add outputs to a phase's Task and optionally complete it (stamping the age band: FR-65)."""
    stored = await phase_task(ctx, case, phase)
    assert stored is not None, f"{case.reference} has no Task for {phase.value}"
    resource = stored.resource()
    for kind, value in items:
        add_output(resource, kind, **value)
    resource["lastModified"] = instant(ctx.now)
    if complete:
        resource["status"] = "completed"
        resource.setdefault("executionPeriod", {})["end"] = instant(ctx.now)
        add_output(resource, "age-band-at-completion", valueString=case.age_band(ctx.today, ctx))
    return await ctx.repo("Task").update(resource, stored, ctx.now)


async def save_case(ctx: Context, case: Case, phase: Phase | None = None, **extra: Any) -> Case:
    """Store the case's new version, moving it to `phase` (and telling the outbox when it moves)."""
    before = case.phase
    resource = case.resource
    if phase is not None:
        resource["status"] = CASE_STATUS[phase]
        resource["businessStatus"] = phase_concept(phase)
    resource["lastModified"] = instant(ctx.now)
    stored = await ctx.repo("Task").update(resource, case.stored, ctx.now, extra or None)
    moved = Case(stored, stored.resource())
    if phase is not None and phase is not before:
        await emit_phase_change(ctx, moved, before, phase)
    return moved


async def emit_phase_change(ctx: Context, case: Case, before: Phase | None, after: Phase) -> None:
    """The outbox event for a phase change, with what reports cut by (borough, age band, risk)."""
    await ctx.outbox.emit(
        "transition-phase-changed",
        ctx.now,
        focus=case.reference,
        subject=case.patient,
        fromPhase=before.value if before else None,
        toPhase=after.value,
        phaseNumber=NUMBER.get(after),
        borough=case.borough,
        sendingService=case.sending_service,
        highRisk=case.high_risk,
        ageBand=case.age_band(ctx.today, ctx),
    )


async def open_escalations(ctx: Context, case: Case) -> list[Stored]:
    """The case's escalations still waiting for an alternative (FR-62)."""
    t = tables.task
    return await ctx.repo("Task").all_where(
        t.c.code == TaskCode.ESCALATION, t.c.part_of == case.reference, t.c.status.in_(OPEN_TASK_STATUSES)
    )


async def open_case_of(ctx: Context, patient: str) -> str | None:
    """The id of the person's open case, if any."""
    t = tables.task
    row = (await ctx.session.execute(select(t.c.id).where(t.c.open_case_key == patient))).first()
    return str(row.id) if row else None


def high_risk_extension(flag: bool, reasons: list[dict[str, Any]], note: str | None, at: str) -> dict[str, Any]:
    """The high-risk extension of a case (FR-60)."""
    parts: list[dict[str, Any]] = [{"url": "flag", "valueBoolean": flag}]
    parts += [{"url": "reason", "valueCodeableConcept": r} for r in reasons]
    if note:
        parts.append({"url": "note", "valueString": note})
    parts.append({"url": "recorded", "valueDateTime": at})
    return {"url": EXT_HIGH_RISK, "extension": parts}
