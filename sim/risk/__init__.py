"""Freeze risk as odds: replications with intervals, and the mean time to the first freeze."""
