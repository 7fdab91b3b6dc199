"""Names and versions of the JSON artifacts stages write, so a reader can refuse one it does not understand.

Every artifact carries `"schema": "medinject.<name>/<version>"`. Bump a version when a field changes meaning
or disappears (adding a field is compatible). `report` and `score` check what they read with `check`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .errors import InputError

log = logging.getLogger(__name__)

VERSIONS = {
    "eval.summary": 1,          # evaluate/summary.json (eval and score)
    "eval.prediction": 1,       # each line of evaluate/predictions.jsonl
    "curate.report": 1,         # curate/report.json
    "mix.manifest": 1,          # mix/manifest.json and mix/<config>/manifest.json
    "judge.summary": 1,         # judge/summary.json
    "train.manifest": 1,        # train output manifest.json
    "agreement.summary": 1,     # agreement/agreement.json
    "translate.eval": 1,        # translate-eval result JSON
    "llm-stage.summary": 1,     # translate / synthesize OUT.summary.json
}


def schema_id(name: str) -> str:
    return f"medinject.{name}/{VERSIONS[name]}"


def stamp(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with its schema id first (an existing `schema` key is replaced)."""
    return {"schema": schema_id(name), **{k: v for k, v in obj.items() if k != "schema"}}


def check(obj: Any, name: str, path: str | Path | None = None, *, line: int | None = None) -> Any:
    """Return `obj` if it is a `name` artifact of the version we read; raise a one-line InputError otherwise.

    An artifact without a schema (written before schemas existed) is read with a warning.
    """
    want = schema_id(name)
    got = obj.get("schema") if isinstance(obj, dict) else None
    if got is None:
        log.warning("%s: no schema field (expected %s); reading it as that", path, want)
        return obj
    if got == want:
        return obj
    gname, _, gver = str(got).rpartition("/")
    if gname == want.rpartition("/")[0]:
        older = gver.isdigit() and int(gver) < VERSIONS[name]
        hint = "rerun the stage that wrote it" if older else "upgrade medinject to read it"
        msg = f"schema {got} but this medinject reads {want}; {hint}"
    else:
        msg = f"schema {got} is not a {name} artifact (expected {want}); is this the right file?"
    raise InputError(path, msg, line=line, field="schema")
