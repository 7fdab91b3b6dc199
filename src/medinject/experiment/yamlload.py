"""YAML that remembers where each key was written, so a validation error can name its line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError


class LineDict(dict):
    """A mapping from YAML; `line` is where it starts, `key_lines[k]` where key k was written."""

    line: int = 0
    key_lines: dict


class LineList(list):
    line: int = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line, out.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line, out.item_lines = node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file into LineDict/LineList; syntax errors raise InputError naming the line."""
    from ..io import read_text

    path = Path(path)
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(path, f"invalid YAML: {e.problem or e.context}", line=line) from None


def line_of(data: Any, loc: Sequence[Any]) -> int | None:
    """The line of the deepest part of `loc` that exists in `data` (pydantic error locations)."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line, node = node.key_lines.get(part, line), node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.item_lines[part], node[part]
        elif isinstance(node, LineDict | LineList):
            continue  # a union tag or a missing field: keep the enclosing line
        else:
            break
    return line


def apply_overrides(data: Any, overrides: Sequence[str], path: str | Path) -> list[str]:
    """Apply `key.sub=value` overrides in place (values parsed as YAML); returns the dotted keys set."""
    keys = []
    from ..errors import MedinjectError
    from ..overrides import split_override

    for item in overrides:
        try:
            parts, value = split_override(item)
        except MedinjectError as e:
            raise InputError(path, str(e)) from None
        key = ".".join(parts)
        node = data
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            if not isinstance(node, dict):
                raise InputError(path, f"override {key}: {'.'.join(parts[:i]) or 'top level'} is not a mapping")
            if part not in node or node[part] is None:
                node[part] = LineDict()
                node[part].key_lines = {}
            node = node[part]
        last = parts[-1]
        if isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
            if isinstance(node, LineDict):
                node.key_lines[last] = None  # set on the command line, not in the file
        else:
            raise InputError(path, f"override {key}: the parent is not a mapping")
        keys.append(key)
    return keys
