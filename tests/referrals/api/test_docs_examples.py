"""docs/referrals.md, replayed: every example request is sent and its answer compared with the guide.

The guide is what an EPR integrator reads, so it must not drift from the service. An example is:

- a ```sh block holding the curl line, then an ```http block: the request line
  (`POST /fhir/ServiceRequest`), headers, a blank line and the JSON body;
- a status line such as `→ 201 Created`, which may name response headers in backticks
  (`` `ETag: W/"1"` ``) and says `trimmed` when the body shown leaves parts out;
- a ```json block: the body the service answered.

HTML comments steer the replay: `<!-- clock: 2026-01-06T10:00:00Z -->` sets the service's clock
before the next request, and `<!-- capture: name = path -->` after a response keeps a value of it
(a dotted path, list positions as numbers; a `Type/id` reference keeps the id) for the `{name}`
placeholders of later requests.

The guide shows the ids the service generated when it was written. Replayed ids differ, so each id
in the guide is bound to the replayed one the first time they meet and must match it everywhere
after that (one guide id to one replayed id). A full body must equal the answer; a trimmed one must
be contained in it (every key shown present with the value shown, list items in order).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from services.kit.clock import FixedClock, parse_instant

DOC = Path(__file__).resolve().parents[3] / "docs" / "referrals.md"
ORIGIN = "http://127.0.0.1:8081"
"""Where `make run` serves the referrals process; the guide's URLs use it."""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
STATUS_LINE = re.compile(r"^→ (\d{3}) ([A-Za-z][A-Za-z -]*[A-Za-z])")
HEADER_SPAN = re.compile(r"`([A-Za-z][A-Za-z-]*): ([^`]+)`")
CLOCK = re.compile(r"^<!-- clock: (\S+) -->$")
CAPTURE = re.compile(r"^<!-- capture: ([a-z][a-z0-9_]*) = ([A-Za-z0-9_.]+) -->$")
REQUEST_LINE = re.compile(r"^(GET|POST|PUT|DELETE) (/\S*)$")


# ---------------------------------------------------------------- reading the guide


@dataclass(frozen=True)
class Capture:
    """A value kept from a response for later requests."""

    name: str
    path: str


@dataclass
class Example:
    """One request of the guide and the answer it shows."""

    line: int
    heading: str
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: str | None
    curl: str | None
    clock: datetime | None
    status: int = 0
    reason: str = ""
    trimmed: bool = False
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response: Any = None
    captures: list[Capture] = field(default_factory=list)

    @property
    def where(self) -> str:
        """Where the example is, for failure messages."""
        return f"docs/referrals.md:{self.line} ({self.heading}: {self.method} {self.target})"


def _fence(lines: list[str], start: int) -> tuple[str, list[str], int]:
    """The info string and lines of the fenced block opening at `start`, and the line after it."""
    info = lines[start].strip().removeprefix("```").strip()
    end = start + 1
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    assert end < len(lines), f"docs/referrals.md:{start + 1}: the ``` block is never closed"
    return info, lines[start + 1 : end], end + 1


def _request(block: list[str], line: int) -> tuple[str, str, list[tuple[str, str]], str | None]:
    where = f"docs/referrals.md:{line}"
    assert block, f"{where}: an empty ```http block"
    first = REQUEST_LINE.match(block[0])
    assert first, f"{where}: {block[0]!r} is not a request line such as `POST /fhir/ServiceRequest`"
    headers: list[tuple[str, str]] = []
    index = 1
    while index < len(block) and block[index].strip():
        name, colon, value = block[index].partition(":")
        assert colon, f"{where}: {block[index]!r} is not a header"
        headers.append((name.strip(), value.strip()))
        index += 1
    body = "\n".join(block[index + 1 :]).strip() or None
    return first.group(1), first.group(2), headers, body


def parse_guide(text: str) -> list[Example]:
    """The guide's examples, in order."""
    lines = text.splitlines()
    examples: list[Example] = []
    heading = ""
    curl: str | None = None
    clock: datetime | None = None
    current: Example | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if stripped.startswith("```"):
            info, block, after = _fence(lines, index)
            if info == "sh" and block and block[0].startswith("curl "):
                curl = " ".join(block)
            elif info == "http":
                if current is not None:
                    assert current.response is not None, f"{current.where}: no status line and ```json answer"
                method, target, headers, body = _request(block, index + 2)
                current = Example(index + 2, heading, method, target, headers, body, curl, clock)
                examples.append(current)
                curl, clock = None, None
            elif info == "json" and current is not None and current.status and current.response is None:
                try:
                    current.response = json.loads("\n".join(block))
                except json.JSONDecodeError as error:
                    raise AssertionError(f"{current.where}: the answer is not JSON: {error}") from None
            index = after
            continue
        status = STATUS_LINE.match(stripped)
        if status and current is not None and not current.status:
            current.status = int(status.group(1))
            current.reason = status.group(2)
            current.trimmed = "trimmed" in stripped
            current.response_headers = HEADER_SPAN.findall(stripped)
        clock_set = CLOCK.match(stripped)
        if clock_set:
            clock = parse_instant(clock_set.group(1))
        capture = CAPTURE.match(stripped)
        if capture:
            assert current is not None, f"docs/referrals.md:{index + 1}: a capture before any example"
            assert current.response is not None, f"{current.where}: a capture before its answer"
            current.captures.append(Capture(capture.group(1), capture.group(2)))
        index += 1
    assert current is None or current.response is not None, f"{current.where}: no answer is shown"
    return examples


# ---------------------------------------------------------------- comparing with ids bound


@dataclass(frozen=True)
class Ids:
    """Which replayed id each id in the guide stands for (and back: the binding is one to one)."""

    doc_to_live: Mapping[str, str] = field(default_factory=dict)
    live_to_doc: Mapping[str, str] = field(default_factory=dict)

    def bind(self, doc: str, live: str) -> Ids | None:
        """These ids with `doc` standing for `live`, or None when either is already bound elsewhere."""
        if self.doc_to_live.get(doc, live) != live or self.live_to_doc.get(live, doc) != doc:
            return None
        return Ids({**self.doc_to_live, doc: live}, {**self.live_to_doc, live: doc})


class Mismatch(AssertionError):
    """The answer differs from the guide at `path`."""


def match_text(doc: str, live: str, ids: Ids) -> Ids | None:
    """Whether a string of the guide matches the replayed one, ids bound; the ids after it."""
    shown = UUID.findall(doc)
    if not shown:
        return ids if doc == live else None
    pattern = f"({UUID.pattern})".join(re.escape(part) for part in UUID.split(doc))
    found = re.fullmatch(pattern, live)
    if found is None:
        return None
    bound: Ids | None = ids
    for doc_id, live_id in zip(shown, found.groups(), strict=True):
        bound = bound.bind(doc_id, live_id) if bound else None
    return bound


def match(doc: Any, live: Any, ids: Ids, trimmed: bool, path: str = "$") -> Ids:
    """Compare a body of the guide with the answer (contained in it when trimmed); the ids after it."""
    if isinstance(doc, dict):
        if not isinstance(live, dict):
            raise Mismatch(f"{path}: the guide shows an object, the service answered {live!r}")
        missing = [k for k in doc if k not in live]
        if missing:
            raise Mismatch(f"{path}: the service's answer has no {missing}")
        if not trimmed and set(live) != set(doc):
            raise Mismatch(f"{path}: the answer also has {sorted(set(live) - set(doc))}; mark it trimmed")
        for key, value in doc.items():
            ids = match(value, live[key], ids, trimmed, f"{path}.{key}")
        return ids
    if isinstance(doc, list):
        if not isinstance(live, list):
            raise Mismatch(f"{path}: the guide shows a list, the service answered {live!r}")
        if trimmed:
            return _in_order(doc, live, ids, path)
        if len(doc) != len(live):
            raise Mismatch(f"{path}: the guide shows {len(doc)} items, the service answered {len(live)}")
        for position, (shown, answered) in enumerate(zip(doc, live, strict=True)):
            ids = match(shown, answered, ids, trimmed, f"{path}[{position}]")
        return ids
    if isinstance(doc, str) and isinstance(live, str):
        bound = match_text(doc, live, ids)
        if bound is None:
            raise Mismatch(f"{path}: the guide shows {doc!r}, the service answered {live!r}")
        return bound
    if type(doc) is not type(live) or doc != live:
        raise Mismatch(f"{path}: the guide shows {doc!r}, the service answered {live!r}")
    return ids


def _in_order(doc: list[Any], live: list[Any], ids: Ids, path: str) -> Ids:
    """Every item shown matches an item of the answer, in the same order (trying each choice)."""
    if not doc:
        return ids
    later: Mismatch | None = None
    for position, candidate in enumerate(live):
        try:
            bound = match(doc[0], candidate, ids, True, f"{path}[{position}]")
        except Mismatch:
            continue
        try:
            return _in_order(doc[1:], live[position + 1 :], bound, path)
        except Mismatch as failure:
            later = failure
    raise later or Mismatch(f"{path}: the answer has no item, in this order, matching {json.dumps(doc[0])}")


# ---------------------------------------------------------------- replaying


def resolve(body: Any, path: str, where: str) -> str:
    """The value at a capture's dotted path (a `Type/id` reference gives its id)."""
    value = body
    for step in path.split("."):
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise AssertionError(f"{where}: the answer has nothing at {path!r}")
    assert isinstance(value, str), f"{where}: {path!r} is {value!r}, not a string"
    return value.rsplit("/", 1)[-1]


def fill(text: str, values: Mapping[str, str], where: str) -> str:
    """A request's text with its `{name}` placeholders replaced by captured values."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        assert name in values, f"{where}: {{{name}}} is not captured by an earlier example"
        return values[name]

    return PLACEHOLDER.sub(value, text)


def rebase(value: Any, base: str) -> Any:
    """An answer with the test client's base URL written as the guide's (`make run`'s)."""
    if isinstance(value, str):
        return value.replace(base, ORIGIN)
    if isinstance(value, list):
        return [rebase(v, base) for v in value]
    if isinstance(value, dict):
        return {k: rebase(v, base) for k, v in value.items()}
    return value


def error_codes(body: Any) -> list[str]:
    """The codes of an OperationOutcome's error issues (none for anything else)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    return [i.get("code") for i in body.get("issue", []) if i.get("severity") in ("error", "fatal")]


def check_curl(example: Example) -> None:
    """The curl line says what the ```http block says: method, URL, headers and a body when there is one."""
    assert example.curl, f"{example.where}: no ```sh block with the curl line before the request"
    words = shlex.split(example.curl)
    method, url, headers, data = "GET", None, [], None
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-X", "--request"):
            method, index = words[index + 1], index + 1
        elif word in ("-H", "--header"):
            name, _, value = words[index + 1].partition(":")
            headers.append((name.strip(), value.strip()))
            index += 1
        elif word in ("-d", "--data", "--data-binary"):
            data, index = words[index + 1], index + 1
        elif word.startswith("http"):
            url = word
        index += 1
    assert url == ORIGIN + example.target, f"{example.where}: the curl URL is {url}"
    assert method == example.method, f"{example.where}: the curl method is {method}"
    assert sorted(headers) == sorted(example.headers), f"{example.where}: the curl headers are {headers}"
    assert (data is not None) == (example.body is not None), f"{example.where}: curl and body disagree"


def guide() -> list[Example]:
    """The examples of docs/referrals.md."""
    return parse_guide(DOC.read_text(encoding="utf-8"))


def test_every_example_is_complete_and_consistent() -> None:
    """Each example has its curl line, a request, a status with its reason phrase and the answer."""
    examples = guide()
    assert len(examples) >= 25
    captured: set[str] = set()
    for example in examples:
        check_curl(example)
        request_text = " ".join([example.target, *(v for _, v in example.headers), example.body or ""])
        used = set(PLACEHOLDER.findall(request_text))
        assert used <= captured, f"{example.where}: {sorted(used - captured)} are not captured before"
        captured |= {c.name for c in example.captures}
        if example.body is not None:
            json.loads(example.body)  # placeholders sit inside strings, so the body is JSON as shown
        assert HTTPStatus(example.status).phrase == example.reason, f"{example.where}: {example.reason}"
        if example.status >= 400:
            issues = example.response.get("issue", [])
            assert error_codes(example.response), f"{example.where}: an error shows its OperationOutcome"
            assert all(i.get("expression") for i in issues), f"{example.where}: an issue names no element"


async def test_every_example_gives_the_answer_shown(client: httpx.AsyncClient, clock: FixedClock) -> None:
    """Replay the guide in order against the service (SQLite, and PostgreSQL when configured)."""
    base = str(client.base_url).rstrip("/")
    values: dict[str, str] = {}
    ids = Ids()
    for example in guide():
        if example.clock is not None:
            clock.moment = example.clock
        where = example.where
        response = await client.request(
            example.method,
            fill(example.target, values, where),
            headers=[(name, fill(value, values, where)) for name, value in example.headers],
            content=fill(example.body, values, where).encode() if example.body is not None else None,
        )
        assert response.status_code == example.status, f"{where}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/fhir+json"), where
        for name, shown in example.response_headers:
            answered = rebase(response.headers.get(name, ""), base)
            bound = match_text(shown, answered, ids)
            assert bound is not None, f"{where}: {name} is {answered!r}, the guide shows {shown!r}"
            ids = bound
        answer = rebase(response.json(), base)
        assert error_codes(answer) == error_codes(example.response), f"{where}: {answer}"
        try:
            ids = match(example.response, answer, ids, example.trimmed)
        except Mismatch as difference:
            raise AssertionError(f"{where}: {difference}") from None
        for capture in example.captures:
            values[capture.name] = resolve(answer, capture.path, where)
