"""Benchmarks: scripts that print figures (results in docs/performance.md)."""
