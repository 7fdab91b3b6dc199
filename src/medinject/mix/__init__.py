"""The seven provenance mixtures (NAT, TRAD, SYN, NAT-TRAD, NAT-SYN, TRAD-SYN, ALL) and custom weightings."""

from .pipeline import plot_composition, run_mix, run_spec
from .sampler import allocate, apportion
from .spec import PAPER_CONFIGS, MixSpec, load_spec, paper_weights

__all__ = ["PAPER_CONFIGS", "MixSpec", "allocate", "apportion", "load_spec", "paper_weights", "plot_composition",
           "run_mix", "run_spec"]
