"""A business refusal inside a workflow: one shape, whatever refused.

The domain refuses (a price tier, an amount beyond the provider's largest charge), an activity
refuses (declined card, out of stock, bad data: a non-retryable ApplicationError whose `type`
is the code), or the order store kept the refusal of an earlier run. Each becomes a Refusal,
recorded on the order as its `rejection` and answered to the caller as an ApplicationError
whose `type` is the API's error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError

from domain.errors import DomainError


class Refusal(Exception):
    def __init__(self, code: str, detail: str, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.extra = str(code), detail, dict(extra or {})

    @classmethod
    def of_domain(cls, error: DomainError) -> Refusal:
        return cls(error.code, error.detail, error.extra)

    @classmethod
    def of_step(cls, error: BaseException) -> Refusal | None:
        """The refusal a failed activity carried, or None for any other failure (left to fail
        the workflow task and be retried). An activity's failure comes wrapped in an
        ActivityError; a local activity's non-retryable ApplicationError as it was raised."""
        cause = error.cause if isinstance(error, ActivityError) else error
        if isinstance(cause, ApplicationError) and cause.non_retryable and cause.type:
            details = cause.details
            extra = details[0] if details and isinstance(details[0], dict) else {}
            return cls(cause.type, cause.message, extra)
        return None

    @classmethod
    def kept(cls, rejection: Mapping[str, Any]) -> Refusal:
        """The refusal the order store kept (its `rejection`)."""
        extra = dict(rejection)
        return cls(str(extra.pop("code")), str(extra.pop("detail", "")), extra)

    def rejection(self) -> dict[str, Any]:
        """What the order store keeps, and answers every retry with."""
        return {"code": self.code, "detail": self.detail, **self.extra}

    def application_error(self) -> ApplicationError:
        return ApplicationError(self.detail, self.extra, type=self.code, non_retryable=True)
