"""Benchmark scripts, run from the repository root as modules: `python -m bench.eval`, `python -m bench.perf`,
`python -m bench.fusion`, `python -m bench.report` (see BENCHMARKS.md); shared helpers in `bench/lib.py`."""
