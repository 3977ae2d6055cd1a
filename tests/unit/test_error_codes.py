"""Every error code maps to one HTTP status, and a problem's `status` is that status.

Codes come from one enum (domain.errors.ErrorCode); a scan of the source checks that every
code raised is one of its members, named as such (never a bare string that could drift from
it), so a new code cannot silently answer 500.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from api.errors import STATUS_BY_CODE, from_application_error, problem_response
from domain.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
# Where codes are raised; the emulators speak Stripe's and Shippo's own errors, not ours.
SCANNED = ("api", "activities", "domain", "providers", "workflows", "stores", "jobs")
REGISTERED = {str(code) for code in ErrorCode}
# Raised as a bare string literal instead of an ErrorCode member (found by the scan).
BARE = "bare string"


def _literal(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return f"{BARE}: {node.value}"
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ErrorCode"
    ):
        member = getattr(ErrorCode, node.attr, None)
        return str(member) if member is not None else f"unknown member ErrorCode.{node.attr}"
    return None


def codes_in(path: Path) -> set[str]:
    """Codes given as literals (or module constants) to Problem(...) or ApplicationError(...,
    type=...), or to problem_response(...)."""
    tree = ast.parse(path.read_text(), str(path))
    constants = {
        target.id: code
        for node in tree.body
        if isinstance(node, ast.Assign) and (code := _literal(node.value, {})) is not None
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ("Problem", "problem_response") and node.args:
            code = _literal(node.args[0], constants)
        elif name == "ApplicationError":
            code = next(
                (_literal(k.value, constants) for k in node.keywords if k.arg == "type"), None
            )
        else:
            continue
        if code is not None:
            found.add(code)
    return found


def used_codes() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            for code in codes_in(path):
                used.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return used


def test_every_code_maps_to_one_http_status_and_the_table_holds_nothing_else() -> None:
    assert sorted(code for code in ErrorCode if code not in STATUS_BY_CODE) == []
    assert all(isinstance(code, ErrorCode) for code in STATUS_BY_CODE)


def test_every_code_raised_in_the_source_is_registered() -> None:
    used = used_codes()
    # The scan finds what it must (else it would pass by finding nothing).
    assert {"provider_unavailable", "payout_failed", "not_found", "unavailable"} <= set(used)
    unregistered = {code: sorted(paths) for code, paths in used.items() if code not in REGISTERED}
    assert unregistered == {}


@pytest.mark.parametrize("code", sorted(STATUS_BY_CODE))
def test_a_problem_says_the_status_it_is_answered_with(code: str) -> None:
    response = problem_response(code, "why", status=999, code_hint="kept")
    body = json.loads(bytes(response.body))
    assert response.status_code == STATUS_BY_CODE[code] == body["status"]
    assert (body["code"], body["detail"], body["code_hint"]) == (code, "why", "kept")
    assert response.media_type == "application/problem+json"
    # A dependency that is down: the client is told when to try again.
    assert ("retry-after" in response.headers) == (response.status_code == 503)


def test_provider_unavailable_from_a_workflow_answers_503_not_500() -> None:
    problem = from_application_error(
        ApplicationError(
            "Stripe is down", {"provider_code": "api_error"}, type="provider_unavailable"
        )
    )
    response = problem_response(problem.code, problem.detail, **problem.extra)
    assert (problem.code, response.status_code) == ("provider_unavailable", 503)
    assert response.headers["retry-after"] == "5"


def test_text_no_utf8_can_encode_is_replaced_in_a_problem_not_turned_into_a_500() -> None:
    response = problem_response("validation_error", "bad", errors=[{"loc": ["body", "\ud800"]}])
    body = json.loads(bytes(response.body))
    assert (response.status_code, body["errors"]) == (422, [{"loc": ["body", "?"]}])
