"""Records to token ids and loss labels, through the project's prompts and the model's own chat template.

We tokenize here rather than let TRL do it so that the label mask is exact whatever the template:
the answer tokens and the end-of-turn token that closes them, nothing of the prompt, nothing after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import read_records, sha256_file
from ..prompts import assistant_text, to_messages
from ..records import Record

IGNORE = -100


@dataclass
class Encoded:
    rows: list[dict[str, list[int]]]
    dropped_too_long: list[str] = field(default_factory=list)
    truncated: int = 0

    @property
    def label_tokens(self) -> int:
        return sum(sum(1 for t in r["labels"] if t != IGNORE) for r in self.rows)

    @property
    def tokens(self) -> int:
        return sum(len(r["input_ids"]) for r in self.rows)


def load_split(paths: Iterable[str | Path], what: str) -> tuple[list[Record], list[dict[str, Any]]]:
    """All records of the files, and one description (path, sha256, count) per file."""
    records: list[Record] = []
    files = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            raise InputError(p, f"{what}: expected a record file (.jsonl or .parquet), got a folder")
        recs = list(read_records(p))
        records.extend(recs)
        files.append({"path": str(p), "sha256": sha256_file(p), "records": len(recs)})
    return records, files


def counts(records: list[Record]) -> dict[str, dict[str, int]]:
    def tally(key) -> dict[str, int]:
        return dict(sorted(Counter(key(r) for r in records).items()))

    return {
        "total": len(records),
        "origin": tally(lambda r: r.origin.value),
        "source": tally(lambda r: r.source),
        "task": tally(lambda r: r.task.value),
    }


# ------------------------------------------------------------ templates ----

def ensure_chat_template(tokenizer, template_file: str | Path | None) -> None:
    """Use `template_file` if given, else the tokenizer's own; error when there is neither."""
    if template_file is not None:
        path = Path(template_file)
        try:
            tokenizer.chat_template = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(path, "chat template file not found", field="chat_template") from None
        return
    if not getattr(tokenizer, "chat_template", None):
        raise MedinjectError(
            f"the model {tokenizer.name_or_path!r} has no chat template; give one with chat_template=FILE.jinja")


def _ids(encoded) -> list[int]:
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
    return list(ids)


def _locate_answer(record: Record, tokenizer) -> tuple[list[int], int, int]:
    """The chat's token ids and the [start, end) span of the answer with its end-of-turn token."""
    messages = to_messages(record, with_answer=True)
    prompt = _ids(tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True))
    full = _ids(tokenizer.apply_chat_template(messages, tokenize=True))
    if full[:len(prompt)] != prompt:
        raise MedinjectError(
            "the chat template renders the prompt differently once the answer is added, so the answer tokens "
            f"cannot be located (record {record.id}); use a template whose generation prompt is a prefix of the chat")
    completion = full[len(prompt):]
    special = set(tokenizer.all_special_ids)
    # The answer ends with the first special token (the end-of-turn marker), which the model must learn to emit.
    end = next((i + 1 for i, t in enumerate(completion) if t in special), len(completion))
    if assistant_text(record).strip() not in tokenizer.decode(completion[:end], skip_special_tokens=True):
        raise MedinjectError(f"the chat template does not place the answer right after the generation prompt "
                             f"(record {record.id}); cannot build the answer-only loss mask")
    return full, len(prompt), len(prompt) + end


def encode_record(record: Record, tokenizer, *, loss_on: str = "answer") -> dict[str, list[int]]:
    """`input_ids` of the whole chat and `labels` (-100 where no loss is taken)."""
    full, start, end = _locate_answer(record, tokenizer)
    return {"input_ids": full, "labels": _labels(full, start, end, loss_on)}


def _labels(full: list[int], start: int, end: int, loss_on: str) -> list[int]:
    if loss_on == "all":
        return list(full)
    return [IGNORE] * start + full[start:end] + [IGNORE] * (len(full) - end)


def encode(records: list[Record], tokenizer, *, loss_on: str = "answer", max_length: int | None = None) -> Encoded:
    """Encode records; cut over-long chats at `max_length`, dropping those whose answer would not fit whole."""
    from ..progress import progress

    out = Encoded(rows=[])
    with progress("tokenize", len(records), enabled=len(records) >= 2000, every=256, transient=True) as bar:
        for r in records:
            bar.advance()
            full, start, end = _locate_answer(r, tokenizer)
            if max_length is not None and len(full) > max_length:
                if end > max_length:
                    out.dropped_too_long.append(r.id)
                    continue
                out.truncated += 1
            cut = slice(None, max_length)
            out.rows.append({"input_ids": full[cut], "labels": _labels(full, start, end, loss_on)[cut]})
    return out


def to_dataset(encoded: Encoded):
    import datasets

    return datasets.Dataset.from_dict({
        "input_ids": [r["input_ids"] for r in encoded.rows],
        "labels": [r["labels"] for r in encoded.rows],
    })
