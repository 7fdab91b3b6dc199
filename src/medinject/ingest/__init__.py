"""Importers: one function per source format, each yielding validated records or passages.

`FORMATS` is the single registry the CLI reads; a new format is one function and one line here. `ingest` is
the entry point: it runs every importer's output through `normalise` (text, repeated ids, ambiguous gold).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import MedinjectError
from ..records import Passage, Record
from .exchange import read_reference_eval
from .mcqa import read_frenchmedmcqa, read_medqa, read_mmlu
from .medinjection import read_medinjection
from .normalise import IngestSummary, normalised
from .passages import read_e3c, read_morfitt

Importer = Callable[..., Iterator[Record | Passage]]

FORMATS: dict[str, Importer] = {
    "frenchmedmcqa": read_frenchmedmcqa,
    "medqa": read_medqa,
    "mmlu": read_mmlu,
    "medinjection": read_medinjection,
    "reference-eval": read_reference_eval,
    "e3c": read_e3c,
    "morfitt": read_morfitt,
}

PASSAGE_FORMATS = {"e3c", "morfitt"}


def _raw_importer(name: str) -> Importer:
    if name == "generic":
        from .generic import read_generic

        return read_generic
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted([*FORMATS, "generic"]))
        raise MedinjectError(f"unknown format {name!r}; known formats: {known}") from None


def get_importer(name: str) -> Importer:
    """The importer of format `name`, its output normalised (`normalise`); `summary=` counts the changes."""
    read = _raw_importer(name)

    def importer(path: str | Path, *, summary: IngestSummary | None = None, **kwargs) -> Iterator[Record | Passage]:
        return normalised(read(Path(path), **kwargs), path, summary)

    return importer


def ingest(path: str | Path, fmt: str, *, summary: IngestSummary | None = None, **kwargs
           ) -> Iterator[Record | Passage]:
    """The records (or passages) of `path` read by the importer `fmt`, normalised (see `normalise`).

    `summary`, when given, counts the items and what normalisation changed.
    """
    return get_importer(fmt)(path, summary=summary, **kwargs)
