"""Package namespaces that import their modules on first use.

A stage package's `__init__` names its public API here instead of importing it, so that `medinject --help`
and verbs that do not need numpy, matplotlib or torch never load them.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_exports(package: str, api: dict[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """`(__getattr__, __all__)` for `package`, where `api` maps each public name to its submodule."""

    def __getattr__(name: str) -> object:
        if name in api:
            return getattr(import_module(f".{api[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(api)
