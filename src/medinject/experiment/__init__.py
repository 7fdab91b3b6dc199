"""Experiment runner: one YAML describes a study; stages run in order with hashed, resumable outputs."""
