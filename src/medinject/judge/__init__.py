"""LLM-as-a-judge, the blind expert rating app, and agreement between automatic scores and experts."""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "run_judge": "judge",
    "judge_answers": "judge",
    "summarize": "judge",
    "run_agreement": "agreement",
    "Answer": "inputs",
    "load_answers": "inputs",
    "read_answers": "inputs",
})
