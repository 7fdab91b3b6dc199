"""Experiment runner: one YAML describes a study; stages run in order with hashed, resumable outputs.

`run_experiment(path, overrides, ...)` validates, plans (dry run), runs or prepares SLURM jobs;
`load_experiment` validates a file; `Runner` and `Node` are the generic engine the stages plug into.
"""

from .config import Experiment, load_experiment
from .engine import Node, Runner, Step, format_plan
from .graph import build_nodes
from .run import run_experiment

__all__ = ["Experiment", "Node", "Runner", "Step", "build_nodes", "format_plan", "load_experiment",
           "run_experiment"]
