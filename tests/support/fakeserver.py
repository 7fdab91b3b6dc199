"""A scripted OpenAI-compatible chat server on loopback, for tests and benchmarks (never a default backend).

It speaks real HTTP/1.1 with keep-alive, answers `/v1/chat/completions` with a reply function after a
fixed latency, counts every request by a hash of its body, and injects faults on demand: 429 with
`Retry-After`, 500, a hang past the client's timeout, a malformed body, a dropped connection. A gate
(`hold_after`) can freeze it after N answers so a test can kill a client at a known point.

Run standalone (benchmarks/client_throughput.py does): `python tests/support/fakeserver.py --latency 0.1`; it prints
`PORT <n>` and serves until killed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULTS = ("429", "500", "hang", "malformed", "drop")
Reply = Callable[[dict[str, Any]], str]
Fault = Callable[[dict[str, Any], int], str | None]  # (body, n-th time this body is seen) -> fault or None
# (body, request headers, the reply's text) -> (status, payload) sent instead of the usual answer, or None
Respond = Callable[[dict[str, Any], dict[str, str], str], "tuple[int, Any] | None"]

_FILLER = ("Le patient présente une douleur thoracique depuis la veille et les examens biologiques sont "
           "normaux ; le médecin propose une surveillance à domicile avec un traitement adapté. ")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def body_key(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def echo_reply(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def _french_like(text: str, variant: int = 0) -> str:
    """French filler about as long as `text`, carrying its numbers; each `variant` starts at another word,
    so that the options of one item never come back as one text."""
    nums = " ; ".join(_NUMBER.findall(text))
    n = max(len(text) - len(nums), 12)
    words = _FILLER.split()
    start = 3 * variant % len(words)
    filler = (" ".join(words[start:] + words[:start]) + " ") * (n // len(_FILLER) + 2)
    filler = filler[:n].rstrip()
    return f"{filler} {nums}".strip()


def french_json_reply(body: dict[str, Any]) -> str:
    """A 'translation' of the JSON object in the last user message that passes the translation checks."""
    from medinject.backends.structured import extract_json

    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    src = extract_json(users[0])  # a retry adds a note after it; translate the record again

    def conv(v, variant=0):
        if isinstance(v, dict):
            return {k: conv(x, n) for n, (k, x) in enumerate(v.items())}
        return _french_like(str(v), variant) if isinstance(v, str) else v

    return json.dumps(conv(src), ensure_ascii=False)


class FakeChatServer:
    def __init__(self, reply: Reply = echo_reply, *, latency: float = 0.0, fault: Fault | None = None,
                 retry_after: str = "1", hang_seconds: float = 60.0, hold_after: int | None = None,
                 structured: bool = True, host: str = "127.0.0.1", port: int = 0, respond: Respond | None = None):
        self.reply, self.latency, self.fault = reply, latency, fault
        self.respond = respond  # odd answer shapes and echoing error bodies, for the tests that need them
        self.retry_after, self.hang_seconds, self.hold_after = retry_after, hang_seconds, hold_after
        self.host, self.port = host, port
        self.structured = structured  # False: refuse `response_format` with a 400, as some servers do
        self.times: dict[str, list[float]] = {}  # body hash -> arrival times
        self.received: Counter[str] = Counter()  # body hash -> times received
        self.answered: list[str] = []  # body hashes answered with 200, in order
        self.faults_sent: Counter[str] = Counter()
        self.auth_headers: set[str] = set()
        self.held = threading.Event()  # set when the gate closes
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # --------------------------------------------------------- lifecycle ----

    def start(self) -> FakeChatServer:
        self._thread = threading.Thread(target=self._run, name="fake-chat-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._release = asyncio.Event()
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    def release(self) -> None:
        """Open the gate: held requests from clients still connected get their answers."""
        self.hold_after = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------- HTTP ----

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                size = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(size) if size else b""
                if "authorization" in headers:
                    self.auth_headers.add(headers["authorization"])
                if method == "GET":
                    await self._send(writer, 200, {"status": "ok", "data": [{"id": "fake", "object": "model"}]})
                elif not await (self._chat(reader, writer, raw, headers) if self.respond
                                else self._chat(reader, writer, raw)):  # subclasses may override _chat(raw)
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            return  # a cancelled handler (server stopping) ends quietly
        finally:
            writer.close()

    async def _chat(self, reader, writer, raw: bytes, headers: dict[str, str] | None = None) -> bool:
        """Answer one chat request; False when the connection must close."""
        body = json.loads(raw)
        key = body_key(body)
        with self._lock:
            self.received[key] += 1
            n = self.received[key]
            self.times.setdefault(key, []).append(time.monotonic())
        if not self.structured and "response_format" in body:
            await self._send(writer, 400, {"error": {"message": "response_format is not supported"}})
            return True
        if self.hold_after is not None and len(self.answered) >= self.hold_after:
            self.held.set()
            await self._release.wait()
            if reader.at_eof():  # the client died while held: nothing was answered
                return False
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self.fault(body, n) if self.fault else None
        if fault:
            self.faults_sent[fault] += 1
        if fault == "429":
            await self._send(writer, 429, {"error": {"message": "rate limited"}}, {"Retry-After": self.retry_after})
        elif fault == "500":
            await self._send(writer, 500, {"error": {"message": "internal error"}})
        elif fault == "hang":
            await asyncio.sleep(self.hang_seconds)
            return False
        elif fault == "malformed":
            await self._send(writer, 200, b'{"choices": [{"message": {"content": "tronqu')
        elif fault == "drop":
            writer.transport.abort()
            return False
        else:
            text = self.reply(body)
            custom = self.respond(body, headers or {}, text) if self.respond else None
            if custom is not None:
                await self._send(writer, *custom)
                if custom[0] == 200:
                    with self._lock:
                        self.answered.append(key)
                return True
            usage = {"prompt_tokens": len(json.dumps(body["messages"])) // 4, "completion_tokens": len(text) // 4}
            await self._send(writer, 200, {
                "id": f"fake-{key[:12]}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake"), "usage": usage,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            })
            with self._lock:
                self.answered.append(key)
        return True

    @staticmethod
    async def _send(writer, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        head = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await writer.drain()


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--reply", choices=["echo", "french-json"], default="french-json")
    args = ap.parse_args(argv)
    reply = french_json_reply if args.reply == "french-json" else echo_reply
    server = FakeChatServer(reply, latency=args.latency).start()
    print(f"PORT {server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
