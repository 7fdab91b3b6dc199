"""The one canonical JSON form and its hash: request cache keys, experiment node keys, content views.

Sorted keys, no spaces, UTF-8 kept as is; values JSON cannot hold are written with `str`. Changing this
form changes every cache key, so it is written once, here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def json_hash(obj: Any) -> str:
    """SHA-256 (hex) of `canonical_json(obj)`."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def stable_int(*parts) -> int:
    """A 64-bit integer from the parts' text, identical across runs and machines (seeds, permutations)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "little")
