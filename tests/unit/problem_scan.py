"""Which problem codes a route's code can raise, read from its source: the endpoint, every
dependency it has, and every function of ours they call, followed through the call graph
(api, stores, domain). A code is found where it is written: `Problem(ErrorCode.X, ...)`,
`problem_response(ErrorCode.X, ...)`, or a DomainError subclass built (`NotFound(...)`, whose
class names its code). Codes a saga answers through a workflow update are not in the API's
source: the contract declares those by hand (api/openapi_contract.py, EXTRA).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from domain.errors import DomainError, ErrorCode

FOLLOWED = ("api", "stores", "domain")
RAISERS = ("Problem", "problem_response")


def route_codes(route: APIRoute) -> set[ErrorCode]:
    """Every code the route's endpoint and dependencies can raise."""
    seen: set[Callable[..., Any]] = set()
    found: set[ErrorCode] = set()
    # The endpoint is read wherever it is defined; what it calls, only where it is ours.
    found = function_codes(route.endpoint, seen, followed=True)
    for function in _dependency_calls(route.dependant):
        found |= function_codes(function, seen)
    return found


def module_codes(module: ModuleType) -> set[ErrorCode]:
    """Every code raised by the functions and methods defined in a module (a middleware)."""
    seen: set[Callable[..., Any]] = set()
    found: set[ErrorCode] = set()
    for value in vars(module).values():
        if inspect.isclass(value) and value.__module__ == module.__name__:
            for member in vars(value).values():
                if isinstance(member, FunctionType):
                    found |= function_codes(member, seen)
        elif isinstance(value, FunctionType) and value.__module__ == module.__name__:
            found |= function_codes(value, seen)
    return found


def function_codes(
    function: Callable[..., Any], seen: set[Callable[..., Any]], *, followed: bool = False
) -> set[ErrorCode]:
    if function in seen or not (followed or _ours(function)):
        return set()
    seen.add(function)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError):
        return set()
    names: dict[str, Any] = {**function.__globals__, **_closure(function)}
    found: set[ErrorCode] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee_name(node.func)
        if callee in RAISERS and node.args:
            code = _error_code(node.args[0])
            if code is not None:
                found.add(code)
        target = _resolve(node.func, names)
        if inspect.isclass(target) and issubclass(target, DomainError):
            found.add(target.code)
        elif isinstance(target, FunctionType):
            found |= function_codes(target, seen)
    return found


def _ours(function: Callable[..., Any]) -> bool:
    module = getattr(function, "__module__", None) or ""
    return isinstance(function, FunctionType) and module.split(".")[0] in FOLLOWED


def _closure(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return dict(inspect.getclosurevars(function).nonlocals)
    except (TypeError, ValueError):
        return {}


def _callee_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _error_code(node: ast.expr) -> ErrorCode | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("ErrorCode", "E")
    ):
        return getattr(ErrorCode, node.attr, None)
    return None


def _resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """The object a callee names: `f` in the function's globals or closure, `module.f`."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = names.get(node.value.id)
        if isinstance(owner, ModuleType) or inspect.isclass(owner):
            return getattr(owner, node.attr, None)
    return None


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)
