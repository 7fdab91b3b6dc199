"""LLM-as-a-judge, the blind expert rating app, and agreement between automatic scores and experts.

Names load lazily so that `medinject --help` does not pay for numpy and scipy.
"""

from importlib import import_module

_API = {"run_judge": "judge", "judge_answers": "judge", "summarize": "judge", "run_agreement": "agreement",
        "Answer": "inputs", "load_answers": "inputs", "read_answers": "inputs"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
