"""The bug bench (issue 7): planted faults and clean controls run through the whole pipeline.

`bench.plants` holds the planted code (referenced by `_target_` overrides), `bench.suite` the cases,
`scripts/bugbench.py` runs them and writes the tables (docs/bugbench.md explains).
"""
