"""Synthetic French instruction data written by an LLM from passages (clinical cases, abstracts)."""

from .kinds import Kind, load_kinds, packaged_kinds
from .synthesize import Synthesizer, check_item, copied, plan_items, run_synthesize

__all__ = ["Kind", "Synthesizer", "check_item", "copied", "load_kinds", "packaged_kinds", "plan_items",
           "run_synthesize"]
