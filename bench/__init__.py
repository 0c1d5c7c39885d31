"""Benchmarks: `python -m bench NAME` or `python -m bench all` (see DESIGN §11)."""
