"""The model's parts, each mirroring one piece of the real stack."""
