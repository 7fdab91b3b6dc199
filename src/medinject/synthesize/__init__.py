"""Synthetic French instruction data written by an LLM from passages (clinical cases, abstracts)."""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "Kind": "kinds",
    "load_kinds": "kinds",
    "packaged_kinds": "kinds",
    "Synthesizer": "synthesize",
    "check_item": "synthesize",
    "copied": "synthesize",
    "plan_items": "synthesize",
    "run_synthesize": "synthesize",
})
