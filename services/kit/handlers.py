"""The one error edge: every exception becomes an OperationOutcome with `application/fhir+json`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.errors import (
    BadRequest,
    FhirError,
    Issue,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from services.kit.http import fhir_response

log = logging.getLogger("continuum.errors")


def error_response(error: FhirError) -> Response:
    """The response for a FhirError."""
    return fhir_response(error.outcome(), error.status, headers=error.headers)


def _fhir_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return error_response(exc)


def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header", "body")]
        where = ".".join(loc) or "request"
        issues.append(Issue("invalid", f"{where}: {err.get('msg', 'invalid')}", (where,)))
    if not issues:
        issues = [Issue("invalid", "The request is invalid")]
    return error_response(BadRequest(issues[0].diagnostics, issues=issues))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: FhirError = NotFound(f"No route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(
            f"{request.method} is not supported on {request.url.path}", headers=dict(exc.headers or {})
        )
    else:
        error = BadRequest(str(exc.detail))
        error.issues = [Issue("processing", str(exc.detail))]
        return fhir_response(error.outcome(), exc.status_code)
    return error_response(error)


def _database_unavailable(request: Request, exc: Exception) -> Response:
    if (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, OperationalError | InterfaceError)
        and not exc.connection_invalidated
    ):
        return _unexpected(request, exc)
    log.warning("database unavailable: %s", exc)
    retry = str(getattr(request.app.state, "retry_after_seconds", 5))
    error = ServiceUnavailable("The database is unavailable; retry shortly", headers={"Retry-After": retry})
    return error_response(error)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    issue = Issue("exception", "An unexpected error occurred; it has been logged")
    return fhir_response({"resourceType": "OperationOutcome", "issue": [issue.to_json()]}, 500)


def _connection_refused(request: Request, exc: Exception) -> Response:
    return _database_unavailable(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into an OperationOutcome."""
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(ConnectionError, _connection_refused)
    app.add_exception_handler(Exception, _unexpected)
