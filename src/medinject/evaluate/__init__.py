"""Evaluation: constrained and greedy multiple choice, answer-order bias, open-ended metrics, intervals.

Public API: `run_eval` (the stage), `predict_choice` / `predict_open` (records -> prediction rows),
`score_rows` + `summarize` (rows -> summary.json metrics), `read_predictions`, `compare_runs`, `CATALOG`.
"""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "compare_runs": "compare",
    "predict_choice": "mcqa",
    "CATALOG": "metrics",
    "exact_match": "metrics",
    "hamming_score": "metrics",
    "predict_open": "oeq",
    "run_eval": "runner",
    "read_predictions": "summary",
    "score_rows": "summary",
    "summarize": "summary",
})
