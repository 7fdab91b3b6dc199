"""English-to-French translation of whole records, with output checks, and translator scoring on WMT."""

from .checks import check_translation, numbers, payload, schema_for
from .evaluate import load_wmt_pairs, run_translate_eval, shared_data_dir
from .translate import RecordTranslator, load_prompt, run_translate

__all__ = ["RecordTranslator", "check_translation", "load_prompt", "load_wmt_pairs", "numbers", "payload",
           "run_translate", "run_translate_eval", "schema_for", "shared_data_dir"]
