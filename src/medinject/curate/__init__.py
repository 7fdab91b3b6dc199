"""Curation: filters that keep or reject each record with a reason, dedup, language, decontamination, quality."""

from .filters import REASONS, Reject, check_answer_leak, check_structure, record_filters
from .language import check_language
from .pipeline import run_curate
from .settings import CurateSettings

__all__ = ["REASONS", "CurateSettings", "Reject", "check_answer_leak", "check_language", "check_structure",
           "record_filters", "run_curate"]
