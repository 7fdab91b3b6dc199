"""Secrets out of server text: nothing a server sends back is written before passing through `redact`.

A server may echo the request's key in an error body ("invalid key sk-..."), a proxy may quote the
`Authorization` header, and a model may repeat a token it was shown. The backend redacts the key it
holds by value, and anything shaped like a bearer token or an `sk-...` key by pattern, before an answer
is cached, an error is reported, or a raw output is kept for a rejected item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MARK = "[REDACTED]"
_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{MARK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), MARK),
    (re.compile(r"(?i)\b(api[_-]?key|access[_-]?token|x-api-key)([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]{6,}"),
     rf"\1\2{MARK}"),
]


def redact(text: str | None, secrets: Iterable[str | None] = ()) -> str | None:
    """`text` with every given secret (by value) and anything shaped like a key or token replaced."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, MARK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text
