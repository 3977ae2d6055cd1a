"""A Stripe-compatible HTTP server for offline runs and tests, driven by the official SDK.

It keeps its objects (optionally in a JSON file), honours idempotency keys like Stripe, checks
parameters against the SDK's generated types, and can be told to fail on purpose.
"""

from .app import create_app

__all__ = ["create_app"]
