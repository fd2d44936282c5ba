"""Pure rules of the transitions service: codes, the phase machine, dates. No I/O, no clock."""
