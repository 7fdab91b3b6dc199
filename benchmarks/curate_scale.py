#!/usr/bin/env python
"""Curation and the seven mixes at MedInjection-FR scale (571,436 records), end to end.

The corpus is built from the real French text in ../shared/data: FrenchMedMCQA questions and options,
MORFITT abstracts, E3C clinical cases and the French side of the WMT biomedical test sets. Base items
combine real sentences, question stems and options (so they are distinct, as real items are); then
copies are planted with known ground truth:
  - exact duplicates (case, accents, spacing, punctuation changed), often under another provenance;
  - near duplicates: 1 to 3 words of the question substituted, deleted or inserted;
  - evaluation items hidden among training records: verbatim, re-cased, options reordered, 1-2 words
    changed, pasted inside a longer question, zero-width or soft hyphens inside long words, the question
    moved to `context` under a generic instruction, or recast as an open question answered by the
    correct option's text;
  - a few English records labelled French and a few broken records.
The timed part (`run_curate` then `run_mix` for the seven configurations at N=33,493) runs in a fresh
process, whose memory (with its workers) is sampled from /proc. Baseline for the near-duplicate figures:
the ground truth planted here. Last line:
    seconds=X peak_rss_gb=Y near_dup_recall=Z contamination_recall=W recall_<variant>=R ...
Targets on a 2-core machine: X <= 300, Y <= 6, Z >= 0.95, W = 1.0, near-duplicate precision >= 0.95.

usage: python benchmarks/curate_scale.py [--records 571436] [--workdir DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDINJECT_SHARED", REPO.parent / "shared")) / "data"
SIZE = 33_493
ORIGIN_SHARE = {"native": 0.135, "translated": 0.73, "synthetic": 0.135}  # about the paper's 77K / 417K / 76K
TASK_SHARE = {"native": (0.35, 0.25, 0.40), "translated": (0.55, 0.10, 0.35), "synthetic": (0.25, 0.25, 0.50)}
SOURCES = {"native": ["fr-exams", "fr-cases"], "translated": ["medqa-fr", "medmcqa-fr", "pubmedqa-fr"],
           "synthetic": ["synth-cases", "synth-abstracts"]}
GENERIC_INSTRUCTIONS = ["Répondez à la question ci-dessous.", "Choisissez la bonne réponse.",
                        "Lisez l'énoncé et répondez."]
INVISIBLE = ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff"]
CONTAM_VARIANTS = {"verbatim": 30, "recased": 15, "reordered": 20, "edited": 20, "embedded": 15, "invisible": 20,
                   "moved_to_context": 20, "mcq_as_open": 20}
OEQ_TEMPLATES = ["Expliquez l'observation suivante :", "Quelle est la portée clinique de ce constat ?",
                 "Résumez l'apport principal de l'étude décrite :", "Quelle conduite à tenir proposez-vous ?",
                 "Interprétez le résultat suivant :", "Quels examens complémentaires demanderiez-vous ?"]
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÉÈÀÂÎÔÛÇ])")


# ------------------------------------------------------------------------------------------ corpus ----

def _sentences() -> list[str]:
    csv.field_size_limit(1 << 30)
    texts = []
    for split in ("train", "dev", "test"):
        with open(SHARED / "morfitt" / f"{split}.tsv", encoding="utf-8") as f:
            texts += [row[1] for row in csv.reader(f, delimiter="\t") if len(row) > 1][1:]
    for line in open(SHARED / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl", encoding="utf-8"):
        texts.append(json.loads(line)["text"])
    for p in sorted((SHARED / "wmt_biomed_fr_en").glob("*.fr")):
        texts += p.read_text(encoding="utf-8").splitlines()
    seen, out = set(), []
    for t in texts:
        for s in _SENT.split(t.strip()):
            s = " ".join(s.split())
            if 8 <= len(s.split()) <= 40 and s not in seen:
                seen.add(s)
                out.append(s)
    return out


def _passages() -> list[str]:
    out = [json.loads(line)["text"] for line in open(SHARED / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl")]
    with open(SHARED / "morfitt" / "train.tsv", encoding="utf-8") as f:
        out += [row[1].strip() for row in csv.reader(f, delimiter="\t")][1:]
    return [p for p in out if 60 <= len(p.split()) <= 600]


def _fmmcqa(split: str) -> list[dict]:
    return json.loads((SHARED / "frenchmedmcqa" / f"{split}.json").read_text(encoding="utf-8"))


def build_corpus(workdir: Path, total: int, seed: int = 0) -> dict:
    from medinject.curate.text import normalise

    rng = random.Random(seed)
    sentences = _sentences()
    passages = _passages()
    test = _fmmcqa("test")
    test_words = {normalise(q["question"]) for q in test}
    stems = sorted({q["question"].strip() for q in _fmmcqa("train") + _fmmcqa("dev")
                    if normalise(q["question"]) not in test_words and len(q["question"].split()) <= 30})
    by_norm = {normalise(v): v.strip() for q in _fmmcqa("train") + _fmmcqa("dev") for v in q["answers"].values()
               if 1 <= len(v.split()) <= 15}
    options = sorted(by_norm.values())  # one spelling per option text, so no item gets duplicate options
    vocab = sorted({w for s in sentences[:5000] for w in s.split() if w.isalpha() and len(w) > 3})
    english = [json.loads(line) for line in open(SHARED / "medqa_usmle_4opt" / "test.jsonl", encoding="utf-8")]

    n_exact, n_near = int(total * 0.03), int(total * 0.04)
    n_lang, n_broken, n_eval_gen, n_contam = 300, 200, 2000, 1500
    n_base = total - n_exact - n_near - n_lang - n_broken - n_contam
    pairs: set[tuple[int, int]] = set()
    # Evaluation items are written from sentences no training item uses, as real test sets are.
    held_out = set(rng.sample(range(len(sentences)), len(sentences) // 20))
    train_idx = [i for i in range(len(sentences)) if i not in held_out]
    eval_idx = sorted(held_out)

    def two_sentences(pool: list[int]) -> tuple[str, str]:
        while True:
            a, b = rng.choice(pool), rng.choice(pool)
            if a != b and (a, b) not in pairs:
                pairs.add((a, b))
                return sentences[a], sentences[b]

    def item(origin: str, i: int, task: str, pool: list[int] = train_idx) -> dict:
        s1, s2 = two_sentences(pool)
        rec = {"id": f"{origin}-{i}", "task": task, "origin": origin, "source": rng.choice(SOURCES[origin]),
               "split": "train", "lang": "fr", "meta": {}}
        if task == "oeq":
            a1, a2 = two_sentences(pool)
            rec.update(question=f"{rng.choice(OEQ_TEMPLATES)} {s1} {s2}", answer=f"{a1} {a2}", options={})
            if origin == "synthetic" and rng.random() < 0.7:
                rec["context"] = rng.choice(passages)
        else:
            k = rng.choice((4, 5))
            opts = rng.sample(options, k)
            letters = "ABCDE"[:k]
            rec.update(question=f"{s1} {s2} {rng.choice(stems)}", options=dict(zip(letters, opts, strict=True)))
            rec["answer"] = [rng.choice(letters)] if task == "mcqu" else sorted(rng.sample(letters, rng.randint(2, 3)))
        return rec

    def task_for(origin: str) -> str:
        return rng.choices(("mcqu", "mcq", "oeq"), TASK_SHARE[origin])[0]

    def origin_for() -> str:
        return rng.choices(list(ORIGIN_SHARE), list(ORIGIN_SHARE.values()))[0]

    base = [item(o, i, task_for(o)) for i, o in enumerate(origin_for() for _ in range(n_base))]
    truth: dict[str, dict] = {r["id"]: {"kind": "base", "group": r["id"]} for r in base}
    eval_items = [{"id": f"eval-fmm-{q['id'][:12]}", "task": "mcqu" if len(q["correct_answers"]) == 1 else "mcq",
                   "question": q["question"], "options": {k.upper(): v for k, v in q["answers"].items()},
                   "answer": [c.upper() for c in q["correct_answers"]], "origin": "native",
                   "source": "frenchmedmcqa", "split": "test", "lang": "fr"} for q in test]
    for j in range(n_eval_gen):
        e = item("native", j, rng.choice(("mcqu", "mcq")), eval_idx)
        e.update(id=f"eval-gen-{j}", split="test", source="heldout")
        eval_items.append(e)

    def variant_text(text: str) -> str:
        choice = rng.randrange(4)
        if choice == 0:
            return text.upper()
        if choice == 1:
            return text.replace("é", "e").replace("è", "e").replace("à", "a")
        if choice == 2:
            return "  ".join(text.split(" ")) + " ."
        return text.replace(",", " ,").replace("'", " ' ").lower()

    def edited(text: str, n: int) -> str:
        words = text.split()
        for _ in range(n):
            i = rng.randrange(len(words))
            op = rng.randrange(3)
            if op == 0:
                words[i] = rng.choice(vocab)
            elif op == 1 and len(words) > 6:
                del words[i]
            else:
                words.insert(i, rng.choice(vocab))
        return " ".join(words)

    planted = []
    for j in range(n_exact):
        src = rng.choice(base)
        c = json.loads(json.dumps(src))
        c.update(id=f"exact-{j}", origin=origin_for(), question=variant_text(src["question"]))
        c["source"] = rng.choice(SOURCES[c["origin"]])
        planted.append(c)
        truth[c["id"]] = {"kind": "exact", "group": src["id"]}
    for j in range(n_near):
        src = rng.choice(base)
        c = json.loads(json.dumps(src))
        c.update(id=f"near-{j}", origin=origin_for(), question=edited(src["question"], rng.randint(1, 3)))
        c["source"] = rng.choice(SOURCES[c["origin"]])
        planted.append(c)
        truth[c["id"]] = {"kind": "near", "group": src["id"]}
    for j in range(n_contam):
        e = rng.choice(eval_items)
        c = json.loads(json.dumps(e))
        origin = origin_for()
        c.update(id=f"contam-{j}", origin=origin, split="train", source=rng.choice(SOURCES[origin]))
        kind = rng.choices(list(CONTAM_VARIANTS), list(CONTAM_VARIANTS.values()))[0]
        if kind == "recased":
            c["question"] = variant_text(e["question"])
        elif kind == "reordered":
            letters = list(e["options"])
            texts = list(e["options"].values())
            order = list(range(len(texts)))
            while order == sorted(order):
                rng.shuffle(order)
            c["options"] = {letters[i]: texts[order[i]] for i in range(len(texts))}
            c["answer"] = [letters[order.index(letters.index(a))] for a in e["answer"]]
            if c["task"] == "mcq":
                c["answer"] = sorted(c["answer"])
        elif kind == "edited":
            c["question"] = edited(e["question"], rng.randint(1, 2))
        elif kind == "embedded":
            c["question"] = f"{rng.choice(sentences)} {e['question']}"
        elif kind == "invisible":
            def mark(m: re.Match) -> str:
                w = m.group(0)
                return w[:4] + rng.choice(INVISIBLE) + w[4:]

            c["question"] = re.sub(r"\w{8,}", mark, e["question"])
            c["options"] = {k: re.sub(r"\w{8,}", mark, v) for k, v in e["options"].items()}
        elif kind == "moved_to_context":
            c.update(question=rng.choice(GENERIC_INSTRUCTIONS), context=e["question"])
        elif kind == "mcq_as_open":
            c.update(task="oeq", options={}, answer=" ; ".join(e["options"][a] for a in e["answer"]))
        planted.append(c)
        truth[c["id"]] = {"kind": "contam", "group": e["id"], "variant": kind}
    for j in range(n_lang):
        q = english[j % len(english)]
        c = {"id": f"lang-{j}", "task": "mcqu", "question": q["question"],
             "options": {k: str(v) for k, v in q["options"].items()}, "answer": [q["answer_idx"]],
             "origin": "translated", "source": "medqa-fr", "split": "train", "lang": "fr"}
        planted.append(c)
        truth[c["id"]] = {"kind": "lang", "group": c["id"]}
    for j in range(n_broken):
        c = json.loads(json.dumps(rng.choice(base)))
        c["id"] = f"broken-{j}"
        if c["task"] == "oeq" or j % 2:
            c["question"] = ""
        else:
            first = next(iter(c["options"]))
            c["options"] = {k: c["options"][first] for k in c["options"]}
        planted.append(c)
        truth[c["id"]] = {"kind": "broken", "group": c["id"]}

    records = base + planted
    rng.shuffle(records)
    workdir.mkdir(parents=True, exist_ok=True)
    files = {o: open(workdir / f"{o}.jsonl", "w", encoding="utf-8") for o in ORIGIN_SHARE}
    for r in records:
        files[r["origin"]].write(json.dumps(r, ensure_ascii=False) + "\n")
    for f in files.values():
        f.close()
    with open(workdir / "eval.jsonl", "w", encoding="utf-8") as f:
        for e in eval_items:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    (workdir / "truth.json").write_text(json.dumps(truth))
    return {"records": len(records), "base": n_base, "exact": n_exact, "near": n_near, "contam": n_contam,
            "lang": n_lang, "broken": n_broken, "eval_items": len(eval_items), "sentences": len(sentences)}


# ------------------------------------------------------------------------------------- timed child ----

def timed_run(workdir: Path, workers: int) -> None:
    import logging
    import resource

    logging.basicConfig(level=logging.INFO, format="  %(name)s: %(message)s", stream=sys.stderr)
    from medinject.curate import run_curate
    from medinject.mix import run_mix

    start = time.perf_counter()
    inputs = [workdir / f"{o}.jsonl" for o in ORIGIN_SHARE]
    report = run_curate(inputs, workdir / "curated", [workdir / "eval.jsonl"], workers=workers, progress=False)
    t_curate = time.perf_counter() - start
    curated = report["outputs"]["curated"]
    mix = run_mix({o: [curated] for o in ORIGIN_SHARE}, SIZE, 0, workdir / "mix", allow_shrink=True)
    seconds = time.perf_counter() - start
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "curate_seconds": t_curate, "ru_maxrss_gb": kb / 2**20,
                      "mix_sizes": {k: v["size"] for k, v in mix["configs"].items()},
                      "mix_tasks": {k: v["counts"]["task"] for k, v in mix["configs"].items()}}))


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(d))
            rss[int(d)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


# ---------------------------------------------------------------------------------------- scoring ----

def _group(truth: dict, rid: str) -> str | None:
    return truth.get(rid, {}).get("group")


def score(workdir: Path) -> dict:
    truth = json.loads((workdir / "truth.json").read_text())
    rejected: dict[str, dict] = {}
    for line in open(workdir / "curated" / "rejected.jsonl", encoding="utf-8"):
        d = json.loads(line)
        rid = d["record"]["id"] if isinstance(d["record"], dict) else None
        if rid:
            rejected[rid] = d
    out: dict = {}
    for kind in ("exact", "near"):
        ids = [i for i, t in truth.items() if t["kind"] == kind]
        resolved = sum(1 for i in ids if i in rejected or truth[i]["group"] in rejected)
        out[f"{kind}_recall"] = resolved / len(ids)
    for reason, key in (("near_duplicate", "near_dup"), ("exact_duplicate", "exact_dup")):
        removed = [(i, d) for i, d in rejected.items() if d["reason"] == reason]
        # Right when the record and the one it was judged a copy of come from the same planted group.
        good = sum(1 for i, d in removed if truth[i]["group"] == _group(truth, d["detail"]["duplicate_of"]))
        out[f"{key}_precision"] = good / len(removed) if removed else 1.0
        out[f"{key}_removed"] = len(removed)
    contam = [i for i, t in truth.items() if t["kind"] == "contam"]
    caught = [i for i in contam if rejected.get(i, {}).get("reason") == "contaminated"]
    out["contamination_recall"] = sum(1 for i in contam if i in rejected) / len(contam)  # no copy left in training
    out["contamination_flagged"] = len(caught) / len(contam)  # ... and removed for that reason
    missed: dict[str, int] = {}
    for i in set(contam) - set(caught):
        missed[truth[i]["variant"]] = missed.get(truth[i]["variant"], 0) + 1
    out["contamination_missed_by_variant"] = missed
    out["contamination_recall_by_variant"] = {
        v: round(sum(1 for i in contam if truth[i]["variant"] == v and i in rejected)
                 / max(1, sum(1 for i in contam if truth[i]["variant"] == v)), 4) for v in CONTAM_VARIANTS}
    out["contamination_false_positives"] = sum(1 for i, d in rejected.items()
                                               if d["reason"] == "contaminated" and truth[i]["kind"] != "contam")
    lang = [i for i, t in truth.items() if t["kind"] == "lang"]
    out["language_recall"] = sum(1 for i in lang if rejected.get(i, {}).get("reason") == "wrong_language") / len(lang)
    out["language_false_rejects"] = sum(1 for i, d in rejected.items()
                                        if d["reason"] == "wrong_language" and truth[i]["kind"] != "lang")
    out["base_lost"] = sum(1 for i, t in truth.items() if t["kind"] == "base" and i in rejected
                           and rejected[i]["reason"] not in ("exact_duplicate", "near_duplicate"))
    return out


def baseline(workdir: Path, n: int = 20_000) -> tuple[float, float]:
    """Seconds to sign and bucket `n` records with datasketch (MinHash.bulk, MinHashLSH) and with
    medinject's vectorised MinHash, same shingles, permutations and banding."""
    from datasketch import MinHash, MinHashLSH

    from medinject.curate.minhash import MinHasher, band_keys, candidate_pairs, lsh_params
    from medinject.curate.text import item_segments, segmented_ngram_hashes
    from medinject.records import Record

    recs = []
    for line in open(workdir / "translated.jsonl", encoding="utf-8"):
        try:
            recs.append(Record.model_validate_json(line))
        except ValueError:
            continue
        if len(recs) == n:
            break
    segments = [item_segments(r) for r in recs]
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=0.7, num_perm=128, weights=(0.1, 0.9))
    grams = [list({" ".join(w[j:j + 2]).encode() for s in segs for w in [s.split()] for j in range(max(1, len(w) - 1))})
             for segs in segments]
    # datasketch used well: one set of permutations shared by every signature (MinHash.bulk).
    for i, m in enumerate(MinHash.bulk(grams, num_perm=128)):
        lsh.query(m)
        lsh.insert(i, m)
    t_ds = time.perf_counter() - t
    params = lsh_params(0.7, 128, (0.1, 0.9))
    segmented_ngram_hashes(segments, 2)  # once to warm up: the hash's table of powers grows to the input's size
    t = time.perf_counter()
    h, off = segmented_ngram_hashes(segments, 2)
    sig = MinHasher(128).signatures(h, off)
    candidate_pairs(band_keys(sig, *params))
    return t_ds, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=571_436)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--_run", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._run:
        timed_run(args._run, args.workers)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="curate_scale."))
    if not (workdir / "truth.json").exists():
        t = time.perf_counter()
        info = build_corpus(workdir, args.records)
        print(f"corpus: {json.dumps(info)} built in {time.perf_counter() - t:.0f} s in {workdir}", flush=True)
    load = os.getloadavg()
    proc = subprocess.Popen([sys.executable, __file__, "--_run", str(workdir), "--workers", str(args.workers)],
                            stdout=subprocess.PIPE, text=True)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        sys.exit(f"timed run failed with status {proc.returncode}")
    run = json.loads(out.strip().splitlines()[-1])
    s = score(workdir)
    sizes = set(run["mix_sizes"].values())
    tasks = {json.dumps(v, sort_keys=True) for v in run["mix_tasks"].values()}
    print(f"load average before the run: {load[0]:.1f} (2 cores shared with other users)")
    print(f"curation {run['curate_seconds']:.0f} s, mixes {run['seconds'] - run['curate_seconds']:.0f} s; "
          f"ru_maxrss main+largest child {run['ru_maxrss_gb']:.2f} GB")
    print(f"mixes: {len(run['mix_sizes'])} configurations, sizes {sorted(sizes)}, identical task counts: "
          f"{len(tasks) == 1} {next(iter(tasks))}")
    print(json.dumps(s))
    t_ds, t_ours = baseline(workdir)
    print(f"baseline, 20,000 records signed and bucketed: datasketch MinHash.bulk+MinHashLSH {t_ds:.1f} s, "
          f"medinject {t_ours:.2f} s ({t_ds / t_ours:.1f}x)")
    print(f"near_dup_precision={s['near_dup_precision']:.4f} exact_dup_recall={s['exact_recall']:.4f} "
          f"exact_dup_precision={s['exact_dup_precision']:.4f}")
    by_variant = " ".join(f"recall_{v}={r:.4f}" for v, r in s["contamination_recall_by_variant"].items())
    print(f"seconds={run['seconds']:.1f} peak_rss_gb={peak / 2**30:.2f} near_dup_recall={s['near_recall']:.4f} "
          f"contamination_recall={s['contamination_recall']:.4f} {by_variant}")


if __name__ == "__main__":
    main()
