"""Records to chats, token ids and loss labels, through the model's own chat template (`medinject.chat.render`).

We tokenize here rather than let TRL do it so that the label mask is exact whatever the template: every token
of the rendered chat (the paper's loss), or the answer tokens and the end-of-turn token that closes them,
nothing of the prompt, nothing after (ours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..chat import render, require_template
from ..errors import InputError, MedinjectError
from ..io import read_records, sha256_file
from ..prompts import assistant_text, authors_user_text, to_messages
from ..records import Record

IGNORE = -100


@dataclass
class Encoded:
    rows: list[dict[str, list[int]]]
    dropped_too_long: list[str] = field(default_factory=list)
    truncated: int = 0
    answer_cut: int = 0  # truncated records whose answer lost tokens (over_long 'truncate' only)
    folded_system: int = 0  # chats whose system turn was folded into the user turn (a template refusing it)

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


# ---------------------------------------------------------------- chats ----

def verbatim_messages(record: Record) -> list[dict[str, str]] | None:
    """The chat as the source gave it (`meta.messages`, kept by the MedInjection-FR importer), if any."""
    msgs = record.meta.get("messages")
    if isinstance(msgs, list) and msgs and all(isinstance(m, dict) and "role" in m for m in msgs):
        return [{"role": m["role"], "content": m.get("content", "")} for m in msgs]
    return None


def chat_messages(record: Record, prompt: str = "medinject") -> list[dict[str, str]]:
    """The training chat of a record (user turn(s) and the assistant answer).

    'paper': the record's verbatim messages when it has them, else the authors' rendering; no system turn.
    'medinject': our French template (`medinject.prompts.to_messages`), system turn included.
    """
    if prompt == "medinject":
        return to_messages(record, with_answer=True)
    msgs = verbatim_messages(record)
    if msgs is None:
        msgs = [{"role": "user", "content": authors_user_text(record)}]
    if not any(m["role"] == "assistant" for m in msgs):
        msgs.append({"role": "assistant", "content": assistant_text(record)})
    return msgs


# ------------------------------------------------------------ templates ----

TEMPLATE_OPTION = "chat_template=FILE.jinja"


def ensure_chat_template(tokenizer, template_file: str | Path | None) -> None:
    """Use `template_file` if given, else the tokenizer's own; error when there is neither."""
    if template_file is not None:
        path = Path(template_file)
        try:
            tokenizer.chat_template = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(path, "chat template file not found", field="chat_template") from None
    require_template(tokenizer, TEMPLATE_OPTION)


def _ids(encoded) -> list[int]:
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
    return list(ids)


def _render_ids(tokenizer, messages: list[dict], **kw) -> tuple[list[int], bool]:
    """Token ids of the chat as the template writes it (its text tokenized without adding special tokens,
    since the template places its own), and whether a refused system turn was folded."""
    text, folded = render(tokenizer, messages, option=TEMPLATE_OPTION, tokenize=False, **kw)
    return _ids(tokenizer(text, add_special_tokens=False)), folded


def _locate_answer(messages: list[dict], tokenizer, record: Record) -> tuple[list[int], int, int, bool]:
    """The chat's token ids, the [start, end) span of the answer with its end-of-turn token, and `folded`."""
    prompt, _ = _render_ids(tokenizer, messages[:-1], add_generation_prompt=True)
    full, folded = _render_ids(tokenizer, messages)
    if full[:len(prompt)] != prompt:
        raise MedinjectError(
            "the chat template renders the prompt differently once the answer is added, so the answer tokens "
            f"cannot be located (record {record.id}); use a template whose generation prompt is a prefix of the chat")
    completion = full[len(prompt):]
    special = set(tokenizer.all_special_ids)
    # The answer ends with the first special token (the end-of-turn marker), which the model must learn to emit.
    end = next((i + 1 for i, t in enumerate(completion) if t in special), len(completion))
    answer = messages[-1]["content"].strip()
    if answer not in tokenizer.decode(completion[:end], skip_special_tokens=True):
        raise MedinjectError(f"the chat template does not place the answer right after the generation prompt "
                             f"(record {record.id}); cannot build the answer-only loss mask")
    return full, len(prompt), len(prompt) + end, folded


def encode_record(record: Record, tokenizer, *, loss_on: str = "answer", prompt: str = "medinject"
                  ) -> dict[str, list[int]]:
    """`input_ids` of the whole chat and `labels` (-100 where no loss is taken)."""
    enc = encode([record], tokenizer, loss_on=loss_on, prompt=prompt)
    return enc.rows[0]


def _labels(full: list[int], start: int, end: int, loss_on: str) -> list[int]:
    if loss_on == "all":
        return list(full)
    return [IGNORE] * start + full[start:end] + [IGNORE] * (len(full) - end)


def encode(records: list[Record], tokenizer, *, loss_on: str = "answer", max_length: int | None = None,
           over_long: str = "drop", prompt: str = "medinject") -> Encoded:
    """Encode records. A chat longer than `max_length` is cut there ('truncate'), or, with 'drop', dropped when
    its answer would not fit whole (a cut that spares the answer is kept)."""
    from ..progress import progress

    out = Encoded(rows=[])
    with progress("tokenize", len(records), enabled=len(records) >= 2000, every=256, transient=True) as bar:
        for r in records:
            bar.advance()
            messages = chat_messages(r, prompt)
            if loss_on == "all" and over_long == "truncate":
                # Every token of the rendered chat: nothing to locate, so any template will do.
                full, folded = _render_ids(tokenizer, messages)
                start, end = 0, len(full)
            else:
                full, start, end, folded = _locate_answer(messages, tokenizer, r)
            out.folded_system += folded
            if max_length is not None and len(full) > max_length:
                if end > max_length:
                    if over_long == "drop":
                        out.dropped_too_long.append(r.id)
                        continue
                    out.answer_cut += 1
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
