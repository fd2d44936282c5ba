"""Use cases of the care-plans service: load, ask the domain, store, write outbox events."""
