"""The seven provenance mixtures (NAT, TRAD, SYN, NAT-TRAD, NAT-SYN, TRAD-SYN, ALL) and custom weightings."""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "plot_composition": "pipeline",
    "run_mix": "pipeline",
    "run_spec": "pipeline",
    "allocate": "sampler",
    "apportion": "sampler",
    "PAPER_CONFIGS": "spec",
    "MixSpec": "spec",
    "load_spec": "spec",
    "paper_weights": "spec",
})
