"""Benchmarks (not part of ``make test``): run from the repository root as ``python -m bench.<name>``."""
