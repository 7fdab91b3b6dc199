"""The rating app as a real server process on loopback, spoken to over HTTP."""

import csv
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx


def client(url, token=None):
    return httpx.Client(base_url=url, timeout=20, headers={"Authorization": f"Bearer {token}"} if token else {})


def test_tokens_blindness_order_and_own_ratings(rating_server, rating_setup):
    s = rating_setup(3)
    srv = rating_server(*s.args)
    anon = client(srv.url)
    assert anon.get("/").status_code == 200 and "Jeton" in anon.get("/").text  # the page itself holds no data
    assert anon.get("/api/me").status_code == 401
    assert anon.get("/api/tasks/0").status_code == 401
    bad = client(srv.url, "not-a-token")
    assert bad.get("/api/me").status_code == 403
    assert bad.put("/api/tasks/0", json={"score": 5}).status_code == 403

    alice, bruno = client(srv.url, s.tokens["alice"]), client(srv.url, s.tokens["bruno"])
    me = alice.get("/api/me").json()
    assert me == {"annotator": "alice", "total": 6, "done": 0, "next": 0, "scale": [1, 10]}
    tasks = [alice.get(f"/api/tasks/{n}").json() for n in range(6)]
    assert all("system" not in t and "item_id" not in t for t in tasks)
    assert not any("base" in str(t) or "NAT" in str(t) for t in tasks)
    shown = [(t["question"], t["candidate"]) for t in tasks]
    assert len(set(shown)) == 6
    questions = [q for q, _ in shown]
    assert all(questions[2 * i] == questions[2 * i + 1] for i in range(3))  # an item's answers come together
    bruno_order = [(t["question"], t["candidate"]) for t in (bruno.get(f"/api/tasks/{n}").json() for n in range(6))]
    assert bruno_order != shown and sorted(bruno_order) == sorted(shown)
    assert alice.get("/api/tasks/6").status_code == 404

    r = alice.put("/api/tasks/0", json={"score": 8, "comment": "précis"})
    assert r.status_code == 200 and r.json()["done"] == 1
    assert alice.put("/api/tasks/1", json={"score": 11}).status_code == 422
    assert alice.put("/api/tasks/1", json={"score": "sept"}).status_code == 422
    assert alice.get("/api/tasks/0").json()["score"] == 8 and alice.get("/api/tasks/0").json()["comment"] == "précis"
    assert alice.get("/api/me").json()["next"] == 1
    # Bruno sees none of Alice's ratings, even on the same answer.
    same = next(n for n, t in enumerate(bruno_order) if t == shown[0])
    assert bruno.get(f"/api/tasks/{same}").json()["score"] is None and bruno.get("/api/me").json()["done"] == 0
    with sqlite3.connect(s.db) as db:
        assert db.execute("SELECT annotator, score, comment FROM ratings").fetchall() == [("alice", 8, "précis")]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_concurrent_annotators_lose_nothing_and_a_restart_keeps_everything(rating_server, rating_setup, run_cli,
                                                                           tmp_path):
    s = rating_setup(20)
    srv = rating_server(*s.args)
    jobs = [(name, n, 1 + (n + len(name)) % 10) for name in s.tokens for n in range(40)]

    def rate(job):
        name, n, score = job
        with client(srv.url, s.tokens[name]) as c:
            return c.put(f"/api/tasks/{n}", json={"score": score, "comment": f"{name} {n}"}).status_code

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(rate, jobs)) == {200}
    srv.stop()
    srv = rating_server(*s.args)  # same database, fresh process
    for name, tok in s.tokens.items():
        me = client(srv.url, tok).get("/api/me").json()
        assert (me["annotator"], me["done"], me["total"], me["next"]) == (name, 40, 40, None)
    code, out, _ = run_cli("annotate", "export", "--db", s.db, "-o", tmp_path / "ratings.csv")
    assert code == 0 and "120 ratings" in out and "alice: 40" in out
    rows = list(csv.DictReader((tmp_path / "ratings.csv").open(encoding="utf-8")))
    assert len(rows) == 120 and len({(r["annotator"], r["item_id"], r["system"]) for r in rows}) == 120
    assert {r["comment"] for r in rows if r["annotator"] == "bruno"} == {f"bruno {n}" for n in range(40)}


def test_serve_refuses_bad_annotator_files(rating_setup, run_cli, tmp_path):
    s = rating_setup(1)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,token\nalice,tok-alice-123\nbruno,short\n")
    code, _, err = run_cli("annotate", "serve", *s.files, "--annotators", bad, "--port", "0")
    assert code == 2 and "bad.csv: line 3: record bruno: field 'token'" in err


def test_binary_scale(rating_server, rating_setup):
    s = rating_setup(1)
    srv = rating_server(*s.args, "--scale", "binary")
    alice = client(srv.url, s.tokens["alice"])
    assert alice.get("/api/me").json()["scale"] == [0, 1]
    assert alice.put("/api/tasks/0", json={"score": 0}).status_code == 200
    assert alice.put("/api/tasks/1", json={"score": 2}).status_code == 422
