"""Continuum's benchmarks (`make bench`): each runs its baseline in the same run and reports ratios.

See bench/README.md for what each measures and how to run it.
"""
