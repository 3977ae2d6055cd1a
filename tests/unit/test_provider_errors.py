"""Provider errors become Temporal errors once: refusals are final, outages are retried."""

from __future__ import annotations

import stripe

from activities.errors import provider_error
from providers.errors import (
    IdempotencyConflictError,
    PaymentDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    sort_stripe_error,
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


def test_a_key_reused_with_other_parameters_is_retried_never_a_refusal() -> None:
    # Stripe's answer when a key's first use had other parameters: that first request may
    # have moved money, so the caller must look for it, never give up and try a new key.
    sorted_error = sort_stripe_error(
        stripe.IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters",
            http_status=400,
            json_body={"error": {"type": "idempotency_error", "message": "..."}},
        )
    )

    error = provider_error(sorted_error)

    assert isinstance(sorted_error, IdempotencyConflictError)
    assert (sorted_error.code, sorted_error.retryable) == ("idempotency_key_reused", True)
    assert (error.type, error.non_retryable) == ("provider_unavailable", False)
    assert error.details == ({"provider_code": "idempotency_key_reused"},)


def test_a_refusal_stripe_kept_for_its_key_is_known_as_replayed() -> None:
    def refused(headers: dict[str, str]) -> stripe.InvalidRequestError:
        return stripe.InvalidRequestError(
            "Charge ch_1 has been disputed", None, code="charge_disputed", headers=headers
        )

    assert sort_stripe_error(refused({"Idempotent-Replayed": "true"})).replayed
    assert sort_stripe_error(refused({"idempotent-replayed": "true"})).replayed
    assert not sort_stripe_error(refused({})).replayed
