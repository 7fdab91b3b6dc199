"""LLM-as-a-judge: reference-guided binary and graded verdicts, and pairwise comparison in both orders.

Every request goes through the shared backends in one batch (their cache, retries and concurrency apply).
Rows keep the judge's raw text; unparseable or failed verdicts are counted and left out, never scored 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Backend, ChatRequest, ChatResponse
from ..errors import MedinjectError
from ..io import write_json, write_jsonl, write_text
from ..schemas import stamp
from . import stats
from .inputs import Answer, load_answers, n_words, systems_of
from .verdicts import DEFAULT_MODES, MODES, JudgePrompt, load_prompt

PAIRWISE = ("first", "all", "none")
# free: the judge writes its reasoning and a `Verdict:` line, as its prompt asks. constrained: it writes only
# `{"verdict": X}`, X held to the prompt's scale by the backend (guided decoding locally, response_format on an
# API); no reasoning. The paper judge keeps the authors' decoding either way.
VERDICT = ("free", "constrained")


def _constrained(kind: str, verdict: str) -> bool:
    return verdict == "constrained" and kind != "paper"


def _status(resp: ChatResponse, prompt: JudgePrompt, constrained: bool) -> tuple[Any, str, str | None]:
    if constrained and resp.text is not None and (resp.error or "").startswith(("invalid_json", "schema",
                                                                                 "not_allowed")):
        return None, "unparseable", resp.error
    if not resp.ok:
        return None, "failed", resp.error or "no text returned"
    value, reason = prompt.parse_constrained(resp.parsed) if constrained else prompt.parse(resp.text)
    return value, ("ok" if reason is None else "unparseable"), reason


def pair_plan(answers: Sequence[Answer], pairwise: str = "first") -> list[tuple[str, str, str]]:
    """(item id, system a, system b) to compare: each system against the first one, all pairs, or none."""
    if pairwise not in PAIRWISE:
        raise MedinjectError(f"--pairwise must be one of {', '.join(PAIRWISE)}, got {pairwise!r}")
    systems = systems_of(answers)
    if pairwise == "none" or len(systems) < 2:
        return []
    pairs = [(systems[0], s) for s in systems[1:]] if pairwise == "first" else list(itertools.combinations(systems, 2))
    have = {a.key for a in answers}
    ids = list(dict.fromkeys(a.id for a in answers))
    return [(i, a, b) for a, b in pairs for i in ids if (i, a) in have and (i, b) in have]


def judge_answers(answers: Sequence[Answer], backend: Backend, *, modes: Sequence[str] = DEFAULT_MODES,
                  pairwise: str = "first", lang: str = "fr", prompt_dir: str | Path | None = None,
                  max_tokens: int = 512, temperature: float = 0.0, verdict: str = "free", progress: bool = True
                  ) -> tuple[list[dict], list[dict]]:
    """(verdict rows, pairwise rows): one row per answer and mode, one per compared item and order."""
    if verdict not in VERDICT:
        raise MedinjectError(f"verdict must be one of {', '.join(VERDICT)}, got {verdict!r}")
    for m in modes:
        if m not in MODES:
            raise MedinjectError(f"unknown judge mode {m!r} (expected {', '.join(MODES)})")
    prompts = {m: load_prompt(m, lang, prompt_dir) for m in modes}
    by_key = {a.key: a for a in answers}
    plan = pair_plan(answers, pairwise)
    if plan:
        prompts["pairwise"] = load_prompt("pairwise", lang, prompt_dir)

    jobs: list[tuple[str, Any]] = []
    requests: list[ChatRequest] = []

    def ask(kind: str, job: Any, messages: list[dict[str, str]], tag: str) -> None:
        p = prompts[kind]
        jobs.append((kind, job))
        # A prompt that fixes its own decoding (the paper judge: one token, greedy) keeps it.
        requests.append(ChatRequest(messages=messages, max_tokens=p.max_tokens or max_tokens,
                                    temperature=temperature if p.temperature is None else p.temperature, tag=tag,
                                    json_schema=p.verdict_schema() if _constrained(kind, verdict) else None))

    for m in modes:
        for a in answers:
            # The authors' judge is shown the item's first user message as the question.
            question = (a.user_message or a.question) if m == "paper" else a.question
            ask(m, a, prompts[m].messages(question=question, reference=a.reference, answer=a.prediction),
                f"{m}:{a.system}:{a.id}")
    for item_id, sa, sb in plan:
        a, b = by_key[(item_id, sa)], by_key[(item_id, sb)]
        for order, (first, second) in (("ab", (a, b)), ("ba", (b, a))):
            ask("pairwise", (item_id, sa, sb, order),
                prompts["pairwise"].messages(question=a.question, reference=a.reference,
                                             answer_a=first.prediction, answer_b=second.prediction),
                f"pairwise:{sa}:{sb}:{item_id}:{order}")
    responses = _generate(backend, requests, progress)

    verdicts, pairs = [], []
    for (kind, job), resp in zip(jobs, responses, strict=True):
        prompt = prompts[kind]
        value, status, reason = _status(resp, prompt, _constrained(kind, verdict))
        common = {"status": status, "reason": reason, "raw": resp.text, "prompt_version": prompt.version,
                  "judge_model": backend.model, "cached": resp.cached}
        if kind in MODES:
            verdicts.append({"id": job.id, "system": job.system, "mode": kind, "score": value, **common,
                             "answer_words": n_words(job.prediction), "reference_words": n_words(job.reference)})
            continue
        item_id, sa, sb, order = job
        shown_first = sa if order == "ab" else sb
        winner = None if value is None else "tie" if value == "tie" else (
            shown_first if value == "A" else (sb if shown_first == sa else sa))
        pairs.append({"id": item_id, "system_a": sa, "system_b": sb, "order": order, "shown_first": shown_first,
                      "verdict": value, "winner": winner, **common,
                      "words_a": n_words(by_key[(item_id, sa)].prediction),
                      "words_b": n_words(by_key[(item_id, sb)].prediction)})
    return verdicts, pairs


def _generate(backend: Backend, requests: list[ChatRequest], progress: bool) -> list[ChatResponse]:
    if not requests:
        return []
    if not progress:
        return backend.generate(requests)
    from ..progress import progress as progress_bar

    with progress_bar("judge", len(requests), transient=True) as bar:
        return backend.generate(requests, on_result=lambda _r: bar.advance())


# ------------------------------------------------------------------ summary ----

def _counts(rows: list[dict]) -> dict[str, int]:
    return {s: sum(r["status"] == s for r in rows) for s in ("ok", "unparseable", "failed")}


def summarize_system(rows: list[dict], **kw) -> dict:
    """Mean verdict with interval, exclusions, and verbosity (length correlation, length-controlled score)."""
    ok = [r for r in rows if r["status"] == "ok"]
    scores = [r["score"] for r in ok]
    words = [r["answer_words"] for r in ok]
    diff = [r["answer_words"] - r["reference_words"] for r in ok]
    return {
        "mean": stats.mean_ci(scores, **kw),
        "n_items": len(rows),
        "excluded": {"unparseable": sum(r["status"] == "unparseable" for r in rows),
                     "failed": sum(r["status"] == "failed" for r in rows)},
        "length_correlation": stats.correlations(words, scores, methods=("pearson", "spearman"), **kw),
        "length_controlled": stats.length_controlled(diff, scores, **kw),
        "prompt_version": rows[0]["prompt_version"] if rows else None,
    }


def summarize_pair(rows: list[dict], **kw) -> dict:
    """Combine both orders per item: agreeing verdicts stand, disagreeing ones count as ties."""
    a, b = rows[0]["system_a"], rows[0]["system_b"]
    by_item: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_item.setdefault(r["id"], {})[r["order"]] = r
    y, diff, consistent = [], [], []
    excluded = {"unparseable": 0, "failed": 0}
    for orders in by_item.values():
        bad = [r for r in orders.values() if r["status"] != "ok"]
        if bad or len(orders) < 2:
            for r in bad:
                excluded[r["status"]] += 1
            continue
        w1, w2 = orders["ab"]["winner"], orders["ba"]["winner"]
        consistent.append(float(w1 == w2))
        winner = w1 if w1 == w2 else "tie"
        y.append(1.0 if winner == a else 0.0 if winner == b else 0.5)
        diff.append(orders["ab"]["words_a"] - orders["ab"]["words_b"])
    decided = [r for r in rows if r["status"] == "ok" and r["verdict"] != "tie"]
    return {
        "system_a": a, "system_b": b, "n_items": len(by_item), "n_compared": len(y),
        "excluded_items": len(by_item) - len(y), "excluded_verdicts": excluded,
        "wins_a": sum(v == 1.0 for v in y), "wins_b": sum(v == 0.0 for v in y), "ties": sum(v == 0.5 for v in y),
        "win_rate_a": stats.mean_ci(y, **kw),
        "consistency": stats.mean_ci(consistent, **kw),
        "first_position_rate": {"value": (sum(r["verdict"] == "A" for r in decided) / len(decided))
                                if decided else None, "n": len(decided)},
        "length_controlled_win_rate_a": stats.length_controlled(diff, y, **kw),
        "prompt_version": rows[0]["prompt_version"],
    }


def summarize(verdicts: list[dict], pairs: list[dict], *, n_boot: int = stats.N_BOOT, seed: int = 0) -> dict:
    kw = {"n_boot": n_boot, "seed": seed}
    systems: dict[str, dict] = {}
    for r in verdicts:
        systems.setdefault(r["system"], {}).setdefault(r["mode"], []).append(r)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in pairs:
        groups.setdefault((r["system_a"], r["system_b"]), []).append(r)
    return {
        "systems": {s: {m: summarize_system(rows, **kw) for m, rows in modes.items()} for s, modes in systems.items()},
        "pairwise": [summarize_pair(rows, **kw) for rows in groups.values()],
        "counts": {"verdicts": _counts(verdicts), "pairwise": _counts(pairs)},
        "bootstrap": {"n_boot": n_boot, "seed": seed, "confidence": stats.CONFIDENCE, "method": "percentile"},
    }


def _fmt(d: dict, digits: int = 3) -> str:
    v, (lo, hi) = d.get("value"), d.get("ci", [None, None])
    if v is None:
        return "n/a"
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if lo is not None else f"{v:.{digits}f}"


def summary_markdown(summary: dict) -> str:
    lines = ["| system | mode | mean [95% CI] | n | unparseable | failed | r(score, length) | length-controlled |",
             "|---|---|---|---|---|---|---|---|"]
    for s, modes in summary["systems"].items():
        for m, d in modes.items():
            lines.append(f"| {s} | {m} | {_fmt(d['mean'])} | {d['mean']['n']} | {d['excluded']['unparseable']} | "
                         f"{d['excluded']['failed']} | {_fmt(d['length_correlation']['pearson'])} | "
                         f"{_fmt(d['length_controlled'])} |")
    if summary["pairwise"]:
        lines += ["", "| A vs B | compared | A wins | B wins | ties | win rate A [95% CI] | consistency | "
                  "length-controlled win rate A |", "|---|---|---|---|---|---|---|---|"]
        for p in summary["pairwise"]:
            lines.append(f"| {p['system_a']} vs {p['system_b']} | {p['n_compared']}/{p['n_items']} | {p['wins_a']} | "
                         f"{p['wins_b']} | {p['ties']} | {_fmt(p['win_rate_a'])} | {_fmt(p['consistency'])} | "
                         f"{_fmt(p['length_controlled_win_rate_a'])} |")
    return "\n".join(lines) + "\n"


def _files(prediction_files) -> list[tuple[str, str | None]]:
    if isinstance(prediction_files, Mapping):  # {system: path}, the runner's form
        return [(str(p), str(s)) for s, p in prediction_files.items()]
    return [(str(f), None) if isinstance(f, (str, Path)) else (str(f[0]), f[1]) for f in prediction_files]


def _prompt_settings(p: JudgePrompt, max_tokens: int, temperature: float, verdict: str) -> dict:
    parser = "constrained_json" if _constrained(p.kind, verdict) else p.parser
    return {"version": p.version, "lang": p.lang, "parser": parser, "max_tokens": p.max_tokens or max_tokens,
            "temperature": temperature if p.temperature is None else p.temperature}


def run_judge(prediction_files, out_dir: str | Path, *, backend: Backend | None = None, backend_kind: str = "openai",
              model: str | None = None, base_url: str | None = None, modes: Sequence[str] = DEFAULT_MODES,
              pairwise: str = "first", lang: str = "fr", prompt_dir: str | Path | None = None,
              max_tokens: int = 512, temperature: float = 0.0, verdict: str = "free", n_boot: int = stats.N_BOOT,
              seed: int = 0, progress: bool = True, **backend_kwargs) -> dict:
    """Judge prediction files ({system: path}, or paths / (path, system) pairs) into `out_dir`.

    `verdict`: free (reasoning and a `Verdict:` line) or constrained (a JSON verdict held to the scale).

    Writes verdicts.jsonl, pairwise.jsonl, summary.json and summary.md; returns the summary.
    """
    answers = load_answers(_files(prediction_files))
    own = backend is None
    if own:
        if not model:
            raise MedinjectError("a judge model is needed (--model)")
        try:
            from ..backends import make_backend
        except ImportError:
            raise MedinjectError("the shared backends (medinject.backends.make_backend) are not available") from None
        backend = make_backend(backend_kind, model, base_url=base_url, **backend_kwargs)
    try:
        verdicts, pairs = judge_answers(answers, backend, modes=modes, pairwise=pairwise, lang=lang,
                                        prompt_dir=prompt_dir, max_tokens=max_tokens, temperature=temperature,
                                        verdict=verdict, progress=progress)
    finally:
        if own:
            backend.close()
    summary = stamp("judge.summary", summarize(verdicts, pairs, n_boot=n_boot, seed=seed))
    summary["judge"] = {"backend": getattr(backend, "name", backend_kind), "model": backend.model, "lang": lang,
                        "modes": list(modes), "pairwise": pairwise, "max_tokens": max_tokens, "verdict": verdict,
                        "temperature": temperature, "systems": systems_of(answers),
                        "prompts": {m: _prompt_settings(load_prompt(m, lang, prompt_dir), max_tokens, temperature,
                                                        verdict) for m in modes}}
    out = Path(out_dir)
    write_jsonl(out / "verdicts.jsonl", verdicts)
    write_jsonl(out / "pairwise.jsonl", pairs)
    write_text(out / "summary.md", summary_markdown(summary))
    write_json(out / "summary.json", summary)  # last: its presence marks a finished run
    return summary
