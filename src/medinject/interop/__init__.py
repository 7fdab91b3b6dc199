"""Bridges to the tools researchers already use: Hugging Face datasets, lm-evaluation-harness, annotation tools."""
