"""Benchmarks: scripts that measure and print, never assert. See docs/benchmarks.md."""
