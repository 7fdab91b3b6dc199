"""The one `key.sub=value` parser, for experiment, training and curation overrides on the command line.

Values are YAML (`5`, `true`, `[a.jsonl, b.jsonl]`, `null`; nothing after `=` is null); dotted keys reach nested
fields. A malformed item is a one-line error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import MedinjectError


def split_override(item: str, what: str = "override") -> tuple[list[str], Any]:
    """(dotted key parts, YAML value) of one `key.sub=value` item."""
    import yaml

    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise MedinjectError(f"{what} {item!r}: expected key=value or key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise MedinjectError(f"{what} {item!r}: value is not valid YAML ({getattr(e, 'problem', None) or e})") \
            from None
    return [p.strip() for p in parts], value


def parse_overrides(items: Sequence[str] | None, what: str = "override") -> dict[str, Any]:
    """`key.sub=value` items as a nested dict (later items win)."""
    out: dict[str, Any] = {}
    for item in items or []:
        parts, value = split_override(item, what)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise MedinjectError(f"{what} {item!r}: '{p}' is not a mapping")
        node[parts[-1]] = value
    return out
