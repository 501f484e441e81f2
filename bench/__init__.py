"""Benchmarks that print figures, run from the project root as ``python -m bench.<group>.<name>``."""
