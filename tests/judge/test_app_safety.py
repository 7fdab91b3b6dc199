"""The rating API takes only integer scores on the scale, and its pages cannot be framed or run foreign code."""

import sqlite3

import httpx


def test_only_an_integer_on_the_scale_is_a_score(rating_server, rating_setup):
    s = rating_setup(2)
    srv = rating_server(*s.args)
    alice = httpx.Client(base_url=srv.url, timeout=20, headers={"Authorization": f"Bearer {s.tokens['alice']}"})
    for bad in (True, False, "7", 7.0, 7.5, None, [7], {"v": 7}, 0, 11, -3):
        r = alice.put("/api/tasks/0", json={"score": bad})
        assert r.status_code == 422, (bad, r.status_code, r.text)
    assert alice.put("/api/tasks/0", content=b'{"score": 7.0}', headers={"Content-Type": "application/json"}
                     ).status_code == 422
    assert alice.get("/api/me").json()["done"] == 0
    assert alice.put("/api/tasks/0", json={"score": 7}).status_code == 200
    srv.stop()
    rows = sqlite3.connect(s.db).execute("SELECT score, typeof(score) FROM ratings").fetchall()
    assert rows == [(7, "integer")]


def test_every_response_forbids_framing_and_foreign_code(rating_server, rating_setup):
    s = rating_setup(1)
    srv = rating_server(*s.args)
    anon = httpx.Client(base_url=srv.url, timeout=20)
    for r in (anon.get("/"), anon.get("/api/me"), anon.get("/api/tasks/0",
                                                             headers={"Authorization": "Bearer nope-nope"})):
        assert r.headers["X-Frame-Options"] == "DENY"
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "script-src 'sha256-" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_policy_hashes_the_page_s_own_blocks():
    import base64
    import hashlib

    from medinject.judge.app import content_security_policy

    page = "<style>b{}</style><script>go()</script><script>x()</script>"
    csp = content_security_policy(page)
    for block in ("b{}", "go()", "x()"):
        assert f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'" in csp
    assert "script-src 'none'" in content_security_policy("<p>no code</p>")
