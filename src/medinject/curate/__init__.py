"""Curation: filters that keep or reject each record with a reason, dedup, language, decontamination, quality."""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "REASONS": "filters",
    "Reject": "filters",
    "check_answer_leak": "filters",
    "check_structure": "filters",
    "record_filters": "filters",
    "check_language": "language",
    "run_curate": "pipeline",
    "CurateSettings": "settings",
})
