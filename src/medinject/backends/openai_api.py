"""Any OpenAI-compatible chat server (OpenAI, vLLM, TGI, Ollama, llama.cpp, `transformers serve`).

Asynchronous with a fixed pool of workers (bounded concurrency); transient failures (429, 5xx, timeouts,
dropped connections, unreadable bodies) are retried with exponential backoff and full jitter, honouring
`Retry-After`. The API key is read from the environment variable the caller names and lives only in the
request header: it is never logged, cached or written, and whatever the server sends back is redacted
(`redact`) before anything keeps it.

Answers are read leniently (`read_completion`): content as a list of parts, a message given as a plain
string, usage fields missing or not numbers. An answer that holds no text (no choices, a refusal)
fails its item with a named reason; the job goes on.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import MedinjectError
from .base import ChatRequest, ChatResponse, Progress, cost_of, price_for, token_count
from .cache import RequestCache, open_cache
from .redact import redact
from .structured import finish, response_format

OPENAI_URL = "https://api.openai.com/v1"
# A wrong URL, model or key fails every request the same way: stop the job instead of rejecting all items.
_FATAL = {401: "the server refused the API key", 403: "access forbidden",
          404: "not found (check --base-url and --model)"}


def content_text(content: Any) -> str:
    """The text of a message's `content`: a string, or the text parts of a list of parts, joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"):
                text = part.get("text")
                if isinstance(text, dict):  # {"type": "text", "text": {"value": ...}} (assistants style)
                    text = text.get("value")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts)
    raise AnswerError(f"unreadable_answer: content is a {type(content).__name__}")


def read_completion(data: Any) -> tuple[str, dict[str, int]]:
    """(text, usage) of a chat completion body; an answer without text raises `AnswerError` naming why."""
    if not isinstance(data, dict):
        raise AnswerError(f"unreadable_answer: the body is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if isinstance(choices, dict):
        choices = [choices]
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        why = f" (server error: {str(error)[:200]})" if error else ""
        raise AnswerError(f"no_choices: the answer holds no choice{why}")
    choice = choices[0]
    if isinstance(choice, str):
        content: Any = choice
    elif isinstance(choice, dict):
        message = choice.get("message", choice.get("delta"))
        if message is None:
            content = choice.get("text")  # the completions layout
            if content is None:
                raise AnswerError("no_message: the answer's first choice holds no message")
        elif isinstance(message, str):
            content = message
        elif isinstance(message, dict):
            content = message.get("content")
            if not content and message.get("refusal"):
                raise AnswerError(f"refused: {str(message['refusal'])[:200]}")
        else:
            raise AnswerError(f"unreadable_answer: the message is a {type(message).__name__}")
    else:
        raise AnswerError(f"unreadable_answer: the first choice is a {type(choice).__name__}")
    raw_usage = data.get("usage")
    if not isinstance(raw_usage, dict):
        raw_usage = {}
    usage = {k: token_count(raw_usage.get(k)) for k in ("prompt_tokens", "completion_tokens")}
    return content_text(content), usage


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 cache: RequestCache | str | bool | None = None, concurrency: int = 8,
                 prices: dict[str, Any] | None = None, timeout: float = 120.0, max_retries: int = 6,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, retry_after_max: float = 300.0,
                 structured: bool = True, extra_body: dict[str, Any] | None = None):
        if concurrency < 1:
            raise MedinjectError(f"concurrency must be at least 1, got {concurrency}")
        self.model = model
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        # The official endpoint always needs a key; a local server gets one only when asked to.
        if api_key_env is None and base_url is None:
            api_key_env = "OPENAI_API_KEY"
        self.api_key_env = api_key_env
        self._key = None
        if api_key_env:
            self._key = os.environ.get(api_key_env)
            if not self._key:
                raise MedinjectError(f"environment variable {api_key_env} is not set (it should hold the API key)")
        self.cache = open_cache(cache)
        self.concurrency = concurrency
        self.price = price_for(prices, model)
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff_base, self.backoff_max, self.retry_after_max = backoff_base, backoff_max, retry_after_max
        self.structured = structured
        self.extra_body = dict(extra_body or {})
        self.stats = {"sent": 0, "retries": 0, "cached": 0, "failed": 0}
        self._ssl = None
        self._io: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, concurrency={self.concurrency})"

    # ------------------------------------------------------------ public ----

    def generate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                 ) -> list[ChatResponse]:
        coro = self.agenerate(requests, on_result=on_result)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        # Called from inside an event loop (a notebook): run ours on a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    async def agenerate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                        ) -> list[ChatResponse]:
        import aiohttp

        results: list[ChatResponse | None] = [None] * len(requests)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(requests)):
            queue.put_nowait(i)
        inflight: dict[str, asyncio.Future] = {}
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout, connect=min(10.0, self.timeout))
        # aiohttp rather than httpx: at 32 requests in flight httpx spends ~1 ms of CPU per request in its
        # connection pool, a fifth of the ideal request rate on two cores; aiohttp spends ~0.2 ms.
        connector = aiohttp.TCPConnector(limit=self.concurrency, ssl=self._ssl_context())

        keys = [r.cache_key(self.model) for r in requests]
        known = self.cache.present(keys) if self.cache is not None else set()
        if self._io is None:  # SQLite writes and output validation run here: the event loop only moves bytes
            self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openai-backend")
        async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
            async def worker() -> None:
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    resp = await self._one(session, requests[i], keys[i], keys[i] in known, inflight)
                    resp.tag = requests[i].tag
                    results[i] = resp
                    if on_result is not None:
                        on_result(resp)

            tasks = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(requests)))]
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks:
                    t.cancel()
        return results  # type: ignore[return-value]

    def _ssl_context(self):
        if self._ssl is None and self.base_url.startswith("https"):
            import ssl

            import certifi

            self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl if self._ssl is not None else False

    def close(self) -> None:
        if self._io is not None:
            self._io.shutdown(wait=True)
            self._io = None
        if self.cache is not None:
            self.cache.close()

    # ---------------------------------------------------------- internals ----

    async def _one(self, session, req: ChatRequest, key: str, known: bool,
                   inflight: dict[str, asyncio.Future]) -> ChatResponse:
        if known and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats["cached"] += 1
                return finish(req, hit)
        if key in inflight:  # the same request twice in one batch (in flight or done): pay once
            first: ChatResponse = await asyncio.shield(inflight[key])
            self.stats["cached"] += 1
            if first.text is None:
                return ChatResponse(text=None, error=first.error)
            return finish(req, ChatResponse(text=first.text, usage=dict(first.usage), cached=True))
        fut = asyncio.get_running_loop().create_future()
        inflight[key] = fut
        try:
            resp = await self._send(session, req, key)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        fut.set_result(resp)  # kept: a later copy of this request reads it
        return resp

    def _store(self, req: ChatRequest, key: str, text: str, usage: dict[str, int]) -> ChatResponse:
        """Commit the answer to the cache (before anyone sees it), then parse and validate it."""
        if self.cache is not None:
            self.cache.put(key, self.model, text, usage)
        return finish(req, ChatResponse(text=text, usage=usage, cost=cost_of(usage, self.price)))

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": req.messages, "max_tokens": req.max_tokens,
                                "temperature": req.temperature}
        if req.seed is not None:
            body["seed"] = req.seed
        if req.json_schema is not None and self.structured:
            body["response_format"] = response_format(req.json_schema)
        body.update(self.extra_body)
        return body

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** attempt))

    async def _send(self, session, req: ChatRequest, key: str) -> ChatResponse:
        import aiohttp

        last = "no attempt"
        attempt = 0
        while attempt <= self.max_retries:
            body = self._body(req)
            try:
                self.stats["sent"] += 1
                text, usage = await self._post(session, body)
            except _Transient as e:
                last = e.reason
                attempt += 1
                if attempt > self.max_retries:
                    break
                self.stats["retries"] += 1
                delay = e.retry_after if e.retry_after is not None else self._backoff(attempt)
                await asyncio.sleep(min(delay, self.retry_after_max) + random.uniform(0, 0.05))
                continue
            except AnswerError as e:
                self.stats["failed"] += 1
                return ChatResponse(text=None, error=self._redact(str(e)))
            except _Unstructured:
                self.structured = False  # the server rejects response_format: extract JSON from text instead
                continue
            except (asyncio.TimeoutError, aiohttp.ClientError) as e:
                last = f"{'timeout' if isinstance(e, asyncio.TimeoutError) else 'connection'}: {type(e).__name__}"
                attempt += 1
                if attempt > self.max_retries:
                    break
                self.stats["retries"] += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            return await asyncio.get_running_loop().run_in_executor(self._io, self._store, req, key, text, usage)
        self.stats["failed"] += 1
        return ChatResponse(text=None, error=self._redact(f"gave up after {attempt} attempts: {last}"))

    def _redact(self, text: str) -> str:
        return redact(text, [self._key]) or ""

    async def _post(self, session, body: dict[str, Any]) -> tuple[str, dict[str, int]]:
        async with session.post(f"{self.base_url}/chat/completions", json=body) as r:
            status, raw = r.status, await r.read()
            retry_after = r.headers.get("Retry-After")
        detail = raw[:300].decode("utf-8", "replace")
        if status == 429 or status >= 500:
            raise _Transient(f"http {status}", _retry_after(retry_after))
        if status in (400, 422) and "response_format" in body and "response_format" in detail:
            raise _Unstructured()
        if status in _FATAL:
            raise MedinjectError(self._redact(f"{self.base_url}: HTTP {status}, {_FATAL[status]}"))
        if status >= 400:  # this request only (too long, refused): the item fails, the job goes on
            raise AnswerError(f"http {status}: {detail[:200]}")
        try:
            data = json.loads(raw)
        except ValueError:  # a truncated body: the next attempt may get it whole
            raise _Transient("malformed response body") from None
        text, usage = read_completion(data)
        return self._redact(text), usage


class _Unstructured(Exception):
    pass


class AnswerError(Exception):
    """This answer cannot be used ('reason: detail'); its item fails, the job goes on."""
