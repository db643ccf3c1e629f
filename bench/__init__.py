"""Benchmarks with their lower bounds: `python -m bench.sync_bench --help`."""
