"""A Stripe-compatible HTTP server for offline runs and tests, driven by the official SDK.

It keeps its objects (optionally in a JSON file), honours idempotency keys like Stripe, checks
parameters against the SDK's generated types, and can be told to fail on purpose. It covers
PaymentIntents and Charges, Refunds, Connect accounts, Transfers and their reversals (against
each account's available balance), Disputes, and Events, which it sends as signed webhooks with
retries. Its own controls live under ``/_emulator`` (see ``controls.py``).
"""

from .app import create_app

__all__ = ["create_app"]
