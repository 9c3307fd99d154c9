"""Benchmarks: ``python -m bench`` (or ``make bench``) writes docs/benchmarks.md.

Speed is measured here, never timed in tests. Every benchmark is paired with a baseline measured
in the same run, interleaved with it, and reported as a ratio: absolute numbers on these
machines are noisy, ratios are what can be compared between runs.

The run uses a throwaway PostgreSQL test database (``bench_portal``) and its own Redis db, so
the dev database and the dev cache are never touched.
"""
