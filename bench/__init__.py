"""Benchmarks: print figures, assert nothing (make bench)."""
