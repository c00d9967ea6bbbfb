"""Benchmarks: each module is a script (see docs/performance.md); common.py is their set-up."""
