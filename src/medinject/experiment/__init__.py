"""Experiment runner: one YAML describes a study; stages run in order with hashed, resumable outputs.

`run_experiment(path, overrides, ...)` validates, plans (dry run), runs or prepares SLURM jobs;
`load_experiment` validates a file; `Runner` and `Node` are the generic engine the stages plug into.
"""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "Experiment": "config",
    "load_experiment": "config",
    "Node": "engine",
    "Runner": "engine",
    "Step": "engine",
    "format_plan": "engine",
    "build_nodes": "graph",
    "run_experiment": "run",
})
