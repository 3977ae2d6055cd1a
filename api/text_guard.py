"""Refuse text PostgreSQL cannot store, anywhere in a request (models.text): 422 naming where.

Request models use StorableText for their fields. This middleware checks the path and query
parameters, the headers and every string (and key) of a JSON body once for every route,
before anything else sees the request: before a lookup or an insert fails with a DataError (a
500, or a saga retrying for ever), before a signed webhook's payload is handled, and before
the idempotency middleware keeps the request. A route whose model forgot StorableText is
covered all the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi import read_body, replaying
from api.errors import problem_response
from domain.errors import ErrorCode
from models.text import unstorable

WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a JSON text must contain to decode to a NUL or a lone surrogate: the escape \u0000,
# a \uD800-\uDFFF escape, or a surrogate encoded as UTF-8 (which json.loads lets through).
# Only a body that matches is parsed here; every other one costs one scan.
_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")
_MOST_ERRORS = 20


class UnstorableTextGuard:
    """Pure ASGI: the body is read once and handed on unchanged (webhook signatures hold)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._patterns: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._patterns is None:
            # Built on the first request: every router is included by then.
            self._patterns = _path_patterns(scope["app"].routes)
        errors = (
            _path_errors(scope["path"], self._patterns)
            + _query_errors(scope)
            + _header_errors(scope)
        )
        if not errors and scope["method"] in WITH_BODY:
            body = await read_body(receive)
            if body is None:
                return  # the client left before sending its request
            errors = _body_errors(body)
            receive = replaying(body, receive)
        if errors:
            fields = ", ".join(_where(error["loc"]) for error in errors)
            await problem_response(
                ErrorCode.VALIDATION_ERROR,
                f"the request holds text that cannot be stored: {fields}",
                errors=errors,
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _error(loc: list[Any], why: str) -> dict[str, Any]:
    return {"loc": loc, "msg": why, "type": "value_error"}


def _where(loc: list[Any]) -> str:
    steps = ".".join(str(step) for step in loc[1:])
    return f"{loc[0]} {steps.encode('unicode_escape').decode('ascii')[:80]}"


def _path_patterns(routes: Any) -> list[re.Pattern[str]]:
    return [
        compile_path(context.path_format)[0]
        for context in iter_route_contexts(routes)
        if context.path_format is not None and "{" in context.path_format
    ]


def _path_errors(path: str, patterns: list[re.Pattern[str]]) -> list[dict[str, Any]]:
    why = unstorable(path)
    if why is None:
        return []
    # Name the parameter that holds it, from a route the path matches.
    for pattern in patterns:
        match = pattern.match(path)
        if match is not None:
            named = [
                _error(["path", name], reason)
                for name, value in match.groupdict().items()
                if (reason := unstorable(value)) is not None
            ]
            if named:
                return named
    return [_error(["path", "path"], why)]


def _query_errors(scope: Scope) -> list[dict[str, Any]]:
    query = scope.get("query_string", b"").decode("latin-1")
    return [
        _error(["query", name], why)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if (why := unstorable(name) or unstorable(value)) is not None
    ]


def _header_errors(scope: Scope) -> list[dict[str, Any]]:
    return [
        _error(["header", name.decode("latin-1")], why)
        for name, value in scope.get("headers", [])
        if (why := unstorable(value.decode("latin-1"))) is not None
    ]


def _body_errors(body: bytes) -> list[dict[str, Any]]:
    if not _SUSPECT.search(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []  # not JSON: the route's own parsing refuses it
    errors: list[dict[str, Any]] = []
    try:
        for loc, why in _unstorable_in(document, ["body"]):
            errors.append(_error(loc, why))
            if len(errors) == _MOST_ERRORS:
                break
    except RecursionError:
        errors.append(_error(["body"], "is nested too deeply to be checked"))
    return errors


def _unstorable_in(value: Any, loc: list[Any]) -> Iterator[tuple[list[Any], str]]:
    if isinstance(value, str):
        if (why := unstorable(value)) is not None:
            yield loc, why
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_in(item, [*loc, index])
    elif isinstance(value, dict):
        for key, item in value.items():
            if (why := unstorable(key)) is not None:
                yield [*loc, key], f"the key {why}"
            yield from _unstorable_in(item, [*loc, key])
