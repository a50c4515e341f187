"""Shared API machinery: the NinjaAPI factory, authentication (session or API key), rate
limits per key, and RFC 9457 problem details as the one error shape for every failure."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from csp.constants import SELF
from csp.decorators import csp_update
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from rapport.core.errors import Conflict, RateLimited
from rapport.core.pagination import InvalidCursor

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://rapport.dev/problems/"


class ProblemError(Exception):
    """Raise from an endpoint to answer with a specific problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type: str = "",
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors
        self.headers = headers or {}


def problem(
    api: NinjaAPI,
    request: HttpRequest,
    *,
    status: int,
    title: str,
    detail: str = "",
    type: str = "",
    errors: list[dict[str, str]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type if type else "about:blank",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def _ninja_errors(exc: NinjaValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query", "path")]
        errors.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "Invalid"))})
    return errors


def _django_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": field, "message": str(message)}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": "body", "message": str(m)} for m in exc.messages]


def declared_query_params(operation: Any) -> frozenset[str]:
    """The query parameter names an operation declares (its signature's query models)."""
    names: set[str] = set()
    for model in operation.models:
        if getattr(model, "__ninja_param_source__", None) == "query":
            names.update(getattr(model, "__ninja_flatten_map__", {}) or model.model_fields)
    return frozenset(names)


def reject_undeclared_query_params(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an operation's `run`: a query parameter it does not declare is a 400.

    Ninja drops undeclared parameters silently, so `?owner__password__startswith=x` would
    answer an unfiltered list; a client that thinks it filtered must learn it did not.
    Applied to every operation of the API (`add_decorator(mode="view")`), so a new
    endpoint cannot forget it. Authentication still answers first (401/403 before 400).
    """
    operation = run.__self__  # type: ignore[attr-defined]
    allowed = declared_query_params(operation)

    @functools.wraps(run)
    def checked(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        unknown = sorted(set(request.GET) - allowed)
        if not unknown:
            return run(request, **kwargs)
        refused = operation._run_checks(request)  # authentication, throttles
        if refused is not None:
            return refused
        known = ", ".join(sorted(allowed)) or "none"
        return operation.api.on_exception(
            request,
            ProblemError(
                400,
                "Unknown query parameter",
                f"Unknown query parameter(s): {', '.join(unknown)}. Allowed: {known}.",
                type="unknown-parameter",
                errors=[
                    {"field": name, "message": "Not a parameter of this endpoint."}
                    for name in unknown
                ],
            ),
        )

    return checked


def _invalid(errors: list[dict[str, str]]) -> ProblemError:
    return ProblemError(
        422,
        "Invalid request",
        "One or more fields are invalid.",
        type="validation",
        errors=errors,
    )


def invalid_cursor() -> ProblemError:
    return ProblemError(
        400,
        "Invalid cursor",
        "This cursor is invalid or belongs to another sort; start again without it.",
        type="invalid-cursor",
        errors=[{"field": "cursor", "message": "Malformed cursor."}],
    )


def _not_found(exc: Exception) -> ProblemError:
    return ProblemError(
        404, "Not found", "No such record, or you may not see it.", type="not-found"
    )


# What each exception answers, most specific class first (InvalidCursor is a Django
# ValidationError; ProblemError is raised by endpoints with its answer ready).
PROBLEMS: tuple[tuple[type[Exception], Callable[[Any], ProblemError]], ...] = (
    (ProblemError, lambda exc: exc),
    (InvalidCursor, lambda exc: invalid_cursor()),
    (NinjaValidationError, lambda exc: _invalid(_ninja_errors(exc))),
    (DjangoValidationError, lambda exc: _invalid(_django_errors(exc))),
    (
        AuthenticationError,
        lambda exc: ProblemError(
            401,
            "Authentication required",
            "Send a valid, unexpired API key as 'Authorization: Bearer <key>'.",
            type="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="rapport"'},
        ),
    ),
    (AuthorizationError, lambda exc: ProblemError(403, "Forbidden", type="forbidden")),
    (
        PermissionDenied,
        lambda exc: ProblemError(
            403, "Forbidden", str(exc) or "You may not do this.", type="forbidden"
        ),
    ),
    (Http404, _not_found),
    (ObjectDoesNotExist, _not_found),
    (
        Conflict,
        lambda exc: ProblemError(412, "Precondition failed", exc.message, type="stale-version"),
    ),
    (
        RateLimited,
        lambda exc: ProblemError(
            429,
            "Too many requests",
            exc.message,
            type="rate-limited",
            headers={"Retry-After": "60"},
        ),
    ),
    (HttpError, lambda exc: ProblemError(exc.status_code, str(exc))),
)


def problem_of(exc: Exception) -> ProblemError | None:
    """The problem details `exc` answers with; None for an exception nobody foresaw."""
    for exc_class, make in PROBLEMS:
        if isinstance(exc, exc_class):
            return make(exc)
    return None


INTERNAL_ERROR = ProblemError(
    500,
    "Internal error",
    "Something went wrong on our side. It has been logged.",
    type="internal",
)


def build_api(*, auth: list[Any]) -> NinjaAPI:
    api = NinjaAPI(
        title="Rapport API",
        version="1.0",
        description=(
            "The Rapport CRM REST API. Authenticate with `Authorization: Bearer <API key>` "
            "(create keys under your user menu → API keys) or a browser session. Every error "
            "is an RFC 9457 problem details object. Lists use cursor (keyset) pagination."
        ),
        auth=auth,
        urls_namespace="api",
        docs_url="/docs",
        openapi_url="/openapi.json",
        # Swagger UI from Ninja's own static files ("ninja" is an installed app), so the
        # docs work offline. Its style sheet draws icons as data: images: the one widening
        # of the Content-Security-Policy it needs, on the docs page only. No validator
        # badge: it would be fetched from swagger.io.
        docs=Swagger(settings={"validatorUrl": None}),
        docs_decorator=csp_update({"img-src": [SELF, "data:"]}),
    )
    api.add_decorator(reject_undeclared_query_params, mode="view")

    def on_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
        found = problem_of(exc)
        if found is None:
            logger.exception("Unhandled API error on %s", request.path, exc_info=exc)
            found = INTERNAL_ERROR
        response = problem(
            api,
            request,
            status=found.status,
            title=found.title,
            detail=found.detail,
            type=found.type,
            errors=found.errors,
        )
        for name, value in found.headers.items():
            response[name] = value
        return response

    # Every class gets the one handler: Ninja picks a handler by the exception's MRO, so
    # a class left out would fall back to Ninja's own (non-RFC 9457) answer.
    for exc_class, _ in PROBLEMS:
        api.exception_handler(exc_class)(on_exception)
    api.exception_handler(Exception)(on_exception)

    return api
