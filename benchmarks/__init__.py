"""Benchmarks: how fast the model and the sweep are, each figure a ratio against a reference
measured in the same run, because absolute times on shared machines drift (issue 6)."""
