"""Decoding Stripe's form-encoded parameters and checking them against the SDK's own types.

The SDK flattens nested values into keys such as ``metadata[order_id]`` and
``allowed_payment_method_types[0]``, and every value arrives as a string, so handlers read
parameters through the typed accessors below rather than trusting the decoded tree.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union
from urllib.parse import parse_qsl

from stripe._request_options import RequestOptions

from .errors import StripeAPIError, invalid_request

Params = dict[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
# Options the SDK takes beside the parameters; they travel as headers, never in the body.
_OPTION_KEYS = frozenset(RequestOptions.__optional_keys__) | frozenset(
    RequestOptions.__required_keys__
)
# Metadata keys are the caller's own strings: "0" there is a key, not a list index.
_FREE_FORM = frozenset({"metadata"})


def decode(query: str) -> Params:
    tree: Params = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if match is None:
            raise invalid_request(f"Invalid parameter name: {raw_key}", param=raw_key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node: Params = tree
        for depth, segment in enumerate(path):
            key = str(len(node)) if segment == "" else segment
            if depth == len(path) - 1:
                node[key] = value
                break
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise invalid_request(f"Invalid parameter: {raw_key}", param=raw_key)
            node = child
    return {key: _listify(value, key in _FREE_FORM) for key, value in tree.items()}


def _listify(value: Any, free_form: bool) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(child, free_form) for key, child in value.items()}
    if not free_form and items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def check(params: Params, spec: type) -> None:
    """Refuse what Stripe refuses: unknown parameters, or required ones missing."""
    for key in sorted(_required(spec)):
        if key not in params:
            raise invalid_request(
                f"Missing required param: {key}.", code="parameter_missing", param=key
            )
    _check_tree(params, spec, prefix="")


def _check_tree(params: Params, spec: type, prefix: str) -> None:
    allowed = _allowed(spec)
    hints = _hints(spec)
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in allowed:
            raise invalid_request(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        if key in hints:
            _check_value(value, hints[key], name)


def _check_value(value: Any, hint: Any, name: str) -> None:
    options = _union_members(hint)
    if isinstance(value, dict):
        nested = [option for option in options if _is_typed_dict(option)]
        if len(nested) == 1:
            _check_tree(value, nested[0], name)
    elif isinstance(value, list):
        for option in options:
            if typing.get_origin(option) is list:
                (item_hint,) = typing.get_args(option) or (Any,)
                for index, item in enumerate(value):
                    _check_value(item, item_hint, f"{name}[{index}]")
                return
    elif isinstance(value, str) and options and all(_is_literal(o) for o in options):
        choices = [arg for option in options for arg in typing.get_args(option)]
        if all(isinstance(choice, str) for choice in choices) and value not in choices:
            raise invalid_request(
                f"Invalid {name}: must be one of {', '.join(map(str, choices))}", param=name
            )


def _union_members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return [member for arg in typing.get_args(hint) for member in _union_members(arg)]
    return [hint]


def _is_typed_dict(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "__required_keys__")


def _is_literal(hint: Any) -> bool:
    return typing.get_origin(hint) is Literal


@functools.cache
def _required(spec: type) -> frozenset[str]:
    return frozenset(getattr(spec, "__required_keys__", ())) - _OPTION_KEYS


@functools.cache
def _allowed(spec: type) -> frozenset[str]:
    keys = frozenset(getattr(spec, "__required_keys__", ())) | frozenset(
        getattr(spec, "__optional_keys__", ())
    )
    return keys - _OPTION_KEYS


@functools.cache
def _hints(spec: type) -> dict[str, Any]:
    """The parameter types, resolved one by one in the module that declares them.

    Some SDK annotations name types imported only for type checkers, so resolving the whole
    class at once fails; a key that cannot be resolved only loses its nested checks.
    """
    hints: dict[str, Any] = {}
    for key, annotation in getattr(spec, "__annotations__", {}).items():
        if key in _OPTION_KEYS:
            continue
        holder = type(spec.__name__, (), {"__annotations__": {key: annotation}})
        holder.__module__ = spec.__module__
        try:
            hints[key] = typing.get_type_hints(holder)[key]
        except Exception:
            continue
    return hints


def string(params: Params, key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise invalid_request(
                f"Missing required param: {key}.", code="parameter_missing", param=key
            )
        return None
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {key}", param=key)
    return value


def integer(params: Params, key: str, *, required: bool = False) -> int | None:
    text = string(params, key, required=required)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise invalid_request(
            f"Invalid integer: {text}", code="parameter_invalid_integer", param=key
        ) from None


def amount(params: Params, *, required: bool = False) -> int | None:
    """The ``amount`` parameter: when given, a positive integer of minor units."""
    value = integer(params, "amount", required=required)
    if value is not None and value <= 0:
        raise invalid_request(
            "Invalid positive integer", code="parameter_invalid_integer", param="amount"
        )
    return value


def amount_within(requested: int | None, left: int, too_much: Callable[[int], str]) -> int:
    """The amount asked for (``requested``), or all that is ``left`` when none is; asking
    for more than is left is refused with the message ``too_much`` makes of the amount."""
    amount = left if requested is None else requested
    if amount > left:
        raise invalid_request(too_much(amount), code="amount_too_large", param="amount")
    return amount


def boolean(params: Params, key: str, default: bool = False) -> bool:
    text = string(params, key)
    if text is None:
        return default
    if text not in ("true", "false"):
        raise invalid_request(f"Invalid boolean: {text}", param=key)
    return text == "true"


def metadata(params: Params, key: str = "metadata") -> dict[str, str]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid_request("Invalid hash: metadata values must be strings", param=key)
    return {k: v for k, v in value.items() if v != ""}


def strings(params: Params, key: str) -> list[str] | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_request(f"Invalid array: {key}", param=key)
    return list(value)


def created_range(params: Params) -> tuple[int | None, int | None]:
    """The inclusive bounds Stripe's ``created`` list filter asks for."""
    value = params.get("created")
    if value is None:
        return None, None
    if isinstance(value, str):
        exact = integer(params, "created")
        return exact, exact
    if not isinstance(value, dict):
        raise invalid_request("Invalid created filter", param="created")
    bounds = {op: integer(value, op) for op in ("gt", "gte", "lt", "lte")}
    lows = [b for b in (_shift(bounds["gt"], 1), bounds["gte"]) if b is not None]
    highs = [b for b in (_shift(bounds["lt"], -1), bounds["lte"]) if b is not None]
    return max(lows, default=None), min(highs, default=None)


def _shift(value: int | None, delta: int) -> int | None:
    return None if value is None else value + delta


__all__ = ["Params", "StripeAPIError", "check", "decode"]
