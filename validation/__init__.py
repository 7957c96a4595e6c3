"""The validation harness: the seed's real app on a real PostgreSQL, measured like the model."""
