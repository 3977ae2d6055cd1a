"""Provider webhooks (API.md, "Webhooks"): Stripe's (signed; stripe.py, what each event does in
stripe_events.py) and Shippo's tracking updates (a token in the URL; shippo.py). Each event is
verified, then acted on once (once.py)."""
