"""The model's parts, each mirroring one piece of the real stack; `simulate` runs a Scenario."""

from sim.model.simulate import Observations, run_model, simulate

__all__ = ["Observations", "run_model", "simulate"]
