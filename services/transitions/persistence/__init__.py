"""Tables of the transitions service."""
