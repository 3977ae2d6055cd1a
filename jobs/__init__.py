"""Work that is neither a request nor an activity: reconciliation against Stripe, the
reservation reaper. Run by the CLI (`fulfillment reconcile`) and the worker (the reaper)."""
