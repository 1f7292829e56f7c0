"""Benchmark scripts: `python bench/eval.py`, `python bench/perf.py`, `python bench/report.py` (see BENCHMARKS.md)."""
