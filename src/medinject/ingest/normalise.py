"""What every importer's output goes through: one text normalisation, one duplicate-id policy, no ambiguous gold.

- Text: every text field (question, options, open answer, context, instruction; a passage's text) gets
  `textnorm.decode_entities`: HTML entities decoded, NFC, BOM dropped, CRLF to LF, Unicode spaces folded.
- Ids: a repeated id gets a `-2` (`-3`, ...) suffix and `meta.duplicate_of` names the first one, as the
  FrenchMedMCQA train split needs; copies are left to curation's deduplication.
- Gold: a correct option whose text is also a wrong option's text makes the gold undecidable; the file is refused.

`IngestSummary` counts what was changed, for the ingest command's closing line and the experiment runner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from ..io import parse_model
from ..records import Passage, Record
from ..textnorm import decode_entities, has_entities, join_key
from ..validate import gold_shares_text

_TEXT_FIELDS = ("question", "context", "instruction")


@dataclass
class IngestSummary:
    items: int = 0
    entity_fields: int = 0  # text fields in which HTML entities were decoded
    normalised_fields: int = 0  # text fields changed by NFC, space, BOM or line-end folding (entities aside)
    renamed_ids: int = 0  # repeated ids given a suffix
    options_unparsed: int = 0  # records whose options could not be read from their prompt (meta.options_parsed)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        """What changed, in words ('' when nothing did)."""
        parts = []
        if self.entity_fields:
            parts.append(f"HTML entities decoded in {self.entity_fields} field(s)")
        if self.normalised_fields:
            parts.append(f"{self.normalised_fields} field(s) normalised (NFC, spaces, line ends)")
        if self.renamed_ids:
            parts.append(f"{self.renamed_ids} repeated id(s) suffixed (meta.duplicate_of)")
        if self.options_unparsed:
            parts.append(f"{self.options_unparsed} with options that could not be read from the prompt (kept with "
                         "meta.options_parsed=false, evaluated through their verbatim prompt)")
        return "; ".join(parts)


def _norm(text: str | None, summary: IngestSummary) -> str | None:
    if not text:
        return text
    out = decode_entities(text)
    if out != text:
        if has_entities(text):
            summary.entity_fields += 1
        else:
            summary.normalised_fields += 1
    return out


def _record(r: Record, summary: IngestSummary) -> dict:
    update = {k: _norm(getattr(r, k), summary) for k in _TEXT_FIELDS}
    if r.is_choice:
        update["options"] = {k: _norm(v, summary) for k, v in r.options.items()}
    else:
        update["answer"] = _norm(str(r.answer), summary)
    return update


def normalised(items: Iterable[Record | Passage], path: str | Path, summary: IngestSummary | None = None
               ) -> Iterator[Record | Passage]:
    """`items` with normalised text, unique ids and an unambiguous gold; `summary` counts the changes."""
    summary = summary if summary is not None else IngestSummary()
    seen: set[str] = set()
    suffixed: set[str] = set()  # ids this function made, which a later genuine id may happen to equal
    first: dict[str, int] = {}
    for item in items:
        if isinstance(item, Record):
            update = _record(item, summary)
            summary.options_unparsed += item.meta.get("options_parsed") is False
        else:
            update = {"text": _norm(item.text, summary)}
        # Ids are joined on as `join_key`s downstream (score, compare, agreement): "x1 " and "x1\u200b" are x1.
        rid = join_key(item.id) or item.id
        if rid != item.id:
            update["id"] = rid
        if rid in seen:
            n = first.get(rid, 1)
            while f"{rid}-{n + 1}" in seen:
                n += 1
            first[rid] = n + 1
            update["id"] = f"{rid}-{n + 1}"
            # A genuine id equal to one made here ("7", "7", "7-2") duplicates nothing: it was only renamed.
            update["meta"] = {**item.meta, **({"renamed_from": rid} if rid in suffixed else {"duplicate_of": rid})}
            suffixed.add(update["id"])
            summary.renamed_ids += 1
        seen.add(update.get("id", rid))
        changed = {k: v for k, v in update.items() if v != getattr(item, k)}
        if changed:  # validated again: an option that was only "&nbsp;" is empty once decoded
            item = parse_model(type(item), {**item.model_dump(), **changed}, path, record=item.id)
        if isinstance(item, Record):
            shared = gold_shares_text(item)
            if shared:
                raise InputError(path, f"options {' and '.join(shared)} share the text "
                                 f"{item.options[shared[0]][:60]!r} but only "
                                 f"{' and '.join(x for x in shared if x in item.letters)} is gold: the answer is "
                                 "ambiguous", record=item.id, field="options")
        summary.items += 1
        yield item
