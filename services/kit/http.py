"""FHIR over HTTP: reading request bodies and writing responses.

Every FHIR response leaves through `fhir_response`, which writes the JSON, the media type and the
versioning headers. Stored resources are served as the bytes they were stored as.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from services.kit.errors import (
    BadRequest,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
)
from services.kit.resources import validate

FHIR_JSON = "application/fhir+json"
_ACCEPTED_BODY_TYPES = ("application/fhir+json", "application/json")


def dumps(value: Any) -> bytes:
    """Serialise JSON the way every Continuum response is written."""
    return orjson.dumps(value)


def etag(version_id: int) -> str:
    """The weak ETag FHIR uses for a version."""
    return f'W/"{version_id}"'


def http_date(moment: datetime) -> str:
    """An RFC 9110 date for `Last-Modified`."""
    return format_datetime(moment, usegmt=True)


def fhir_response(
    body: bytes | dict[str, Any],
    status: int = 200,
    *,
    version_id: int | None = None,
    last_updated: datetime | None = None,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A FHIR JSON response with ETag, Last-Modified and Location when they apply."""
    out = dict(headers or {})
    if version_id is not None:
        out["ETag"] = etag(version_id)
    if last_updated is not None:
        out["Last-Modified"] = http_date(last_updated)
    if location is not None:
        out["Location"] = location
    content = body if isinstance(body, bytes) else dumps(body)
    return Response(content=content, status_code=status, media_type=FHIR_JSON, headers=out)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the raw body, refusing anything over `limit` bytes before it is all in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_CONTROL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\(?:u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])|[bf])")
"""A JSON escape (not itself escaped) of a control character other than tab, LF and CR."""


def informational(diagnostics: str) -> Response:
    """A 200 OperationOutcome with one information issue (an acknowledgement: "applied", "queued 2")."""
    issue = {"severity": "information", "code": "informational", "diagnostics": diagnostics}
    return fhir_response({"resourceType": "OperationOutcome", "issue": [issue]})


def parse_json(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object, or raise a 400 that says where the JSON broke."""
    if not raw.strip():
        raise BadRequest("The request body is empty; a FHIR JSON resource is required")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object (a FHIR resource)", "resourceType")
    if _CONTROL_ESCAPE.search(raw):
        # FHIR strings have no control characters but tab, CR and LF; PostgreSQL stores no NUL at all.
        raise BadRequest("A string in the body contains a control character (only tab, CR and LF are allowed)")
    return value


def check_content_type(request: Request) -> None:
    """Refuse bodies that are not FHIR JSON (415)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _ACCEPTED_BODY_TYPES:
        raise UnsupportedMediaType(f"Content-Type {media or '(none)'} is not supported; send application/fhir+json")


def body_limit(request: Request) -> int:
    """The body size limit configured for this app."""
    return int(getattr(request.app.state, "max_body_bytes", 1_000_000))


async def resource_body(request: Request, resource_type: str | None) -> dict[str, Any]:
    """Read, parse and structurally validate a FHIR resource from the request."""
    check_content_type(request)
    return validate(parse_json(await read_body(request, body_limit(request))), resource_type)


def fhir_body(resource_type: str | None) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency that yields the request's resource, validated as `resource_type`."""

    async def dependency(request: Request) -> dict[str, Any]:
        return await resource_body(request, resource_type)

    return dependency


def if_match(request: Request, *, required: bool) -> int | None:
    """The version named by `If-Match` (`W/"3"` or `"3"`); 412 when required and absent."""
    value = request.headers.get("if-match")
    if value is None:
        if required:
            raise PreconditionFailed("This operation requires an If-Match header", "If-Match")
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f'If-Match {value!r} is not a version ETag such as W/"1"', "If-Match")
    return int(text)
