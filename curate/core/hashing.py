"""The one hashing helper: stable JSON, content ids, file digests, short version ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def stable_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the canonical form everything is hashed in."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_obj(obj: Any) -> str:
    return sha256_text(stable_json(obj))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def short_id(obj: Any, length: int = 12) -> str:
    """Short content address of any JSON-able object (version ids, run ids, eval ids)."""
    return sha256_obj(obj)[:length]
