"""Benchmarks of oamflow's orchestration overhead and scale: `python -m bench`.

Each module measures one thing and returns a dict of raw numbers with its
target and whether it passed. `bench.__main__` runs them on a local stack that
it starts itself (`bench.stack`), prints a table and writes
`bench/results/latest.json`. BENCHMARKS.md describes the method and the
results. Benchmarks are not tests: nothing here asserts on a time.
"""
