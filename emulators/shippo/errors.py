"""Shippo-shaped API errors raised by the emulator's handlers, and refused control calls."""

from __future__ import annotations

from typing import Any

from emulators.controls import ControlError as ControlError


class ShippoAPIError(Exception):
    """An answer as Shippo gives it: its API (Django REST framework) answers errors with either
    ``{"detail": "..."}`` or, for a refused field, ``{"field": ["message", ...]}``."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> ShippoAPIError:
    return ShippoAPIError(status, {"detail": message}, headers)


def invalid(field: str, message: str) -> ShippoAPIError:
    return ShippoAPIError(400, {field: [message]})


def not_found() -> ShippoAPIError:
    return detail(404, "Not found.")
