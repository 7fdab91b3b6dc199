"""Throughput of the OpenAI-compatible backend on a translation job, against a 100 ms loopback server.

A server in its own process answers every chat request after a fixed 100 ms. 2,000 MedQA records are
translated through `run_translate` (checks, journal, cache included) at concurrency 32; the ideal is
32 / 0.1 s = 320 requests per second. The baseline, in the same run, is a plain sequential client
(one httpx request after another, no pipeline) on 100 records.

    .venv/bin/python benchmarks/client_throughput.py [--records 2000] [--concurrency 32]

Last line: `throughput_vs_ideal=X speedup_vs_sequential=Y` (targets: X >= 0.8, Y >= 25).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LATENCY = 0.1


def start_server() -> tuple[subprocess.Popen, str]:
    server = REPO / "tests" / "support" / "fakeserver.py"  # test support, not part of the installed package
    proc = subprocess.Popen([sys.executable, str(server), "--latency", str(LATENCY), "--reply", "french-json"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}/v1"


def make_records(n: int, out: Path) -> Path:
    from medinject.ingest import ingest
    from medinject.io import write_records
    from medinject.records import Origin
    from medinject.translate import shared_data_dir

    base = list(ingest(shared_data_dir() / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.NATIVE))
    # More records than MedQA has: numbered copies, so that every request is distinct (none served twice).
    records = (r.model_copy(update={"id": f"{r.id}-{k}", "question": f"({k}) {r.question}"})
               for k in itertools.count() for r in base)
    write_records(out, itertools.islice(records, n))
    return out


def sequential(url: str, records_path: Path, n: int) -> float:
    """Requests per second of a plain loop: one request, wait, the next."""
    import httpx

    from medinject.io import load_records
    from medinject.translate import RecordTranslator

    tr = RecordTranslator("fake")
    records = load_records(records_path)[:n]
    with httpx.Client(base_url=url, timeout=30) as client:
        t = time.perf_counter()
        for r in records:
            req = tr.request(r)
            resp = client.post("/chat/completions", json={"model": "fake", "messages": req.messages,
                                                           "max_tokens": req.max_tokens, "temperature": 0})
            json.loads(resp.json()["choices"][0]["message"]["content"])
        return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sequential", type=int, default=100)
    args = ap.parse_args()

    from medinject.backends import BackendSpec
    from medinject.translate import run_translate

    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            src = make_records(args.records, tmp / "en.jsonl")
            seq_rps = sequential(url, src, args.sequential)
            spec = BackendSpec(model="fake", base_url=url, cache=str(tmp / "cache.sqlite"),
                               concurrency=args.concurrency)
            t, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
            summary = run_translate(src, tmp / "fr.jsonl", spec, progress=False, log=lambda m: None)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu0
    finally:
        proc.kill()
        proc.wait()
    requests = summary["items"] + summary["retried"]
    rps = requests / elapsed
    ideal = args.concurrency / LATENCY
    print(f"concurrent: {summary['items']} records ({summary['accepted']} accepted, {requests} requests) in "
          f"{elapsed:.2f} s = {rps:.1f} req/s (ideal {ideal:.0f})")
    # The CPU the client used and the machine's load tell a slow machine from a slow client.
    print(f"client CPU {1000 * cpu / summary['items']:.2f} ms per record; load average {load0:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"sequential: {args.sequential} records at {seq_rps:.2f} req/s (ideal {1 / LATENCY:.0f})")
    print(f"throughput_vs_ideal={rps / ideal:.2f} speedup_vs_sequential={rps / seq_rps:.1f}")


if __name__ == "__main__":
    main()
