"""Evaluation: constrained and greedy multiple choice, answer-order bias, open-ended metrics, intervals.

Public API: `run_eval` (the stage), `predict_choice` / `predict_open` (records -> prediction rows),
`score_rows` + `summarize` (rows -> summary.json metrics), `read_predictions`, `compare_runs`, `CATALOG`.
"""

from __future__ import annotations

from .compare import compare_runs
from .mcqa import predict_choice
from .metrics import CATALOG, exact_match, hamming_score
from .oeq import predict_open
from .runner import run_eval
from .summary import read_predictions, score_rows, summarize

__all__ = ["CATALOG", "compare_runs", "exact_match", "hamming_score", "predict_choice", "predict_open",
           "read_predictions", "run_eval", "score_rows", "summarize"]
