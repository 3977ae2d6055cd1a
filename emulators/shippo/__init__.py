"""A Shippo-compatible HTTP server for offline runs and tests, driven by the official SDK.

It quotes rates for shipments, buys labels (transactions: no idempotency key, as at Shippo, so
duplicates are bought and counted), registers tracks and moves the test carrier's parcels
(``shippo`` with SHIPPO_TRANSIT, SHIPPO_DELIVERED, ... numbers) by itself, and sends each
tracking change as a ``track_updated`` webhook with retries. It keeps its objects in a JSON
file, requires ``Authorization: ShippoToken <key>``, and can be told to fail on purpose. Its own
controls live under ``/_emulator`` (see ``controls.py``).
"""

from .app import create_app

__all__ = ["create_app"]
