"""Use cases of the referrals service: load, ask the domain, store, write outbox events.

Nothing here commits: the request's session does, after the endpoint returns.
"""
