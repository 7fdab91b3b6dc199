"""English-to-French translation of whole records, with output checks, and translator scoring on WMT."""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "check_translation": "checks",
    "numbers": "checks",
    "payload": "checks",
    "schema_for": "checks",
    "load_wmt_pairs": "evaluate",
    "run_translate_eval": "evaluate",
    "shared_data_dir": "evaluate",
    "RecordTranslator": "translate",
    "load_prompt": "translate",
    "run_translate": "translate",
})
