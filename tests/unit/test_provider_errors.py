"""Provider errors become Temporal errors once: refusals are final, outages are retried."""

from __future__ import annotations

from activities.errors import provider_error
from providers.errors import (
    PaymentDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)


def test_a_declined_card_is_a_final_payment_declined_with_its_decline_code() -> None:
    error = provider_error(
        PaymentDeclinedError("card_declined", "declined", decline_code="insufficient_funds")
    )
    assert (error.type, error.non_retryable) == ("payment_declined", True)
    assert error.details == ({"decline_code": "insufficient_funds"},)


def test_an_invalid_request_is_final() -> None:
    error = provider_error(ProviderRejectedError("parameter_unknown", "bad"))
    assert (error.type, error.non_retryable) == ("provider_rejected", True)


def test_an_outage_is_retried_and_never_its_own_cause() -> None:
    original = ProviderUnavailableError("provider_error", "503 from Stripe")
    error = provider_error(original)
    assert (error.type, error.non_retryable) == ("provider_unavailable", False)
    assert error is not original
    try:
        raise error from original
    except Exception as raised:
        assert raised.__cause__ is original and original.__cause__ is None
