"""Use cases of the transitions service: load, ask the domain, call other services, store, write outbox events.

Nothing here commits: the request's session does, after the endpoint returns.
"""
