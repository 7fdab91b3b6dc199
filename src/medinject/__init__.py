"""medinject: French biomedical instruction data of every provenance, from sources to the paper's tables."""

__version__ = "0.1.0"
