"""The outbox worker: dispatches events to their destinations and delivers them, at least once.

Composition, like app.py: it reads the outbox (events/), renders each webhook's body in its
dialect's shape (dialects/*), checks targets (webhooks/targets) and sends. docs/events.md
describes the leases, the retry schedule and the stream.
"""
