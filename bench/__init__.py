"""Benchmarks: `python -m bench` runs them all (docs/benchmarks.md); `python -m bench.<name>`
runs one."""
