"""The blind rating web app: one token per annotator, answers shown without system names, in an order of
their own; ratings go straight to the SQLite store.

The page (templates/annotate.html) is plain HTML and JS served by the app itself: nothing is fetched from
outside. The API takes `Authorization: Bearer TOKEN`; no token gives 401, an unknown one 403. Every
response forbids framing and carries a Content-Security-Policy that allows only the page's own inline
script and style (by hash) and requests to the app itself. A score is a JSON integer on the scale: `true`,
`"7"` and `7.0` are refused (422), as a typing slip must not become a rating.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import random
import re
import socket
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from ..errors import InputError, MedinjectError
from .inputs import Answer
from .store import RatingStore

MIN_TOKEN = 8


class Rating(BaseModel):
    score: int = Field(strict=True)  # strict: no bool, no string, no float
    comment: str = Field(default="", max_length=5000)


def read_annotators(path: str | Path) -> dict[str, str]:
    """{token: name} from YAML (a list of {name, token}, or name: token) or CSV (columns name, token)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    entries: list[tuple[int | None, str, str]] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {"name", "token"} <= set(reader.fieldnames or []):
                raise InputError(path, "columns 'name' and 'token' are required", line=1)
            entries = [(reader.line_num, (r["name"] or "").strip(), (r["token"] or "").strip()) for r in reader]
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise InputError(path, f"malformed YAML: {getattr(e, 'problem', e)}") from None
        if isinstance(data, dict) and "annotators" in data:
            data = data["annotators"]
        if isinstance(data, dict):
            entries = [(None, str(k), str(v)) for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(d, dict) for d in data):
            entries = [(None, str(d.get("name") or "").strip(), str(d.get("token") or "").strip()) for d in data]
        else:
            raise InputError(path, "expected a list of {name, token} or a mapping name: token")
    tokens: dict[str, str] = {}
    for line, name, token in entries:
        where = {"line": line, "record": name or None}
        if not name:
            raise InputError(path, "empty annotator name", field="name", **where)
        if len(token) < MIN_TOKEN:
            raise InputError(path, f"token shorter than {MIN_TOKEN} characters", field="token", **where)
        if token in tokens:
            raise InputError(path, "token used by another annotator", field="token", **where)
        if name in tokens.values():
            raise InputError(path, "annotator listed twice", field="name", **where)
        tokens[token] = name
    if not tokens:
        raise InputError(path, "no annotators")
    return tokens


def content_security_policy(page: str) -> str:
    """A policy allowing the page's inline <script> and <style> blocks by hash, and nothing from elsewhere."""
    def sources(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        digests = [base64.b64encode(hashlib.sha256(b.encode("utf-8")).digest()).decode() for b in blocks]
        return " ".join(f"'sha256-{d}'" for d in digests) or "'none'"

    return (f"default-src 'none'; script-src {sources('script')}; style-src {sources('style')}; "
            "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def task_order(answers: Sequence[Answer], annotator: str) -> list[tuple[str, str]]:
    """(item id, system) in this annotator's order: items shuffled, then each item's answers shuffled.

    Seeded by the annotator's name, so the order is stable across restarts but differs between annotators.
    """
    rng = random.Random(hashlib.sha256(annotator.encode("utf-8")).digest())
    by_item: dict[str, list[str]] = {}
    for a in answers:
        by_item.setdefault(a.id, []).append(a.system)
    items = sorted(by_item)
    rng.shuffle(items)
    order = []
    for item in items:
        systems = sorted(by_item[item])
        rng.shuffle(systems)
        order += [(item, s) for s in systems]
    return order


def create_app(answers: Sequence[Answer], tokens: dict[str, str], store: RatingStore):
    from fastapi import Depends, FastAPI, Header, HTTPException
    from fastapi.responses import HTMLResponse

    if store.scale is None:
        raise MedinjectError("the rating store has no scale")
    by_key = {a.key: a for a in answers}
    orders: dict[str, list[tuple[str, str]]] = {}
    page = (resources.files("medinject") / "templates" / "annotate.html").read_text(encoding="utf-8")
    app = FastAPI(title="medinject rating", docs_url=None, redoc_url=None, openapi_url=None)
    security_headers = {"Content-Security-Policy": content_security_policy(page), "X-Frame-Options": "DENY",
                        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                        "Cache-Control": "no-store"}

    @app.middleware("http")
    async def secure(request, call_next):
        response = await call_next(request)
        response.headers.update(security_headers)
        return response

    def annotator(authorization: str | None = Header(default=None)) -> str:
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise HTTPException(401, "missing token", headers={"WWW-Authenticate": "Bearer"})
        given = authorization[7:].strip().encode("utf-8")
        name = None
        for token, who in tokens.items():  # compare with every token: the time taken reveals nothing
            if hmac.compare_digest(token.encode("utf-8"), given):
                name = who
        if name is None:
            raise HTTPException(403, "invalid token")
        return name

    def order_of(name: str) -> list[tuple[str, str]]:
        if name not in orders:
            orders[name] = task_order(answers, name)
        return orders[name]

    def state(name: str) -> dict:
        order, mine = order_of(name), store.ratings_of(name)
        done = [k in mine for k in order]
        nxt = next((i for i, d in enumerate(done) if not d), None)
        return {"annotator": name, "total": len(order), "done": sum(done), "next": nxt}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/me")
    def me(name: str = Depends(annotator)) -> dict:
        return {**state(name), "scale": list(store.scale)}

    @app.get("/api/tasks/{n}")
    def task(n: int, name: str = Depends(annotator)) -> dict:
        order = order_of(name)
        if not 0 <= n < len(order):
            raise HTTPException(404, "no such task")
        a = by_key[order[n]]
        score, comment = store.ratings_of(name).get(a.key, (None, ""))
        # Blind: neither the system nor the item id leaves the server.
        return {"n": n, "question": a.question, "reference": a.reference, "candidate": a.prediction,
                "score": score, "comment": comment, **state(name)}

    @app.put("/api/tasks/{n}")
    def rate(n: int, body: Rating, name: str = Depends(annotator)) -> dict:
        order = order_of(name)
        if not 0 <= n < len(order):
            raise HTTPException(404, "no such task")
        try:
            store.rate(name, *order[n], body.score, body.comment)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        return state(name)

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back from `getsockname`)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise MedinjectError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    return sock


def serve(answers: Sequence[Answer], tokens: dict[str, str], db: str | Path, *, scale: tuple[int, int],
          host: str = "127.0.0.1", port: int = 8000, on_ready=print) -> None:
    """Run the app until interrupted; `on_ready` gets the URL once the port is bound."""
    import uvicorn

    store = RatingStore(db, scale)
    app = create_app(answers, tokens, store)
    sock = bind(host, port)
    on_ready(f"http://{host}:{sock.getsockname()[1]}/")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
