"""Typed calls to other services, through the gateway."""
