"""Benchmark scripts; ``python -m benchmarks`` runs each ``benchmarks/*.py`` in turn."""
