"""Stripe-shaped API errors raised by the emulator's handlers."""

from __future__ import annotations

from typing import Any

from emulators.controls import ControlError as ControlError


class StripeAPIError(Exception):
    """An answer in Stripe's error envelope, with the HTTP status Stripe would use."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None
) -> StripeAPIError:
    return StripeAPIError(400, "invalid_request_error", message, code=code, param=param)


def balance_insufficient(message: str) -> StripeAPIError:
    """Less money where it is taken from (a balance, a source charge) than the amount asked."""
    return invalid_request(message, code="balance_insufficient", param="amount")


def no_such(kind: str, object_id: str, *, param: str, status: int = 400) -> StripeAPIError:
    # Stripe answers 404 for a missing object named in the path and 400 for one named in
    # the parameters; both carry code resource_missing.
    return StripeAPIError(
        status,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def api_error(message: str, status: int = 500) -> StripeAPIError:
    return StripeAPIError(status, "api_error", message)
