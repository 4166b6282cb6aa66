"""A small client for any OpenAI-compatible ``/chat/completions`` endpoint (stdlib only).

Why its own: the judge must be bounded and reproducible — retries with backoff on transient
errors only, a rate limit shared by all threads, a stop after repeated connection failures (an
endpoint that is down costs seconds, not hours), and an on-disk cache of answers keyed by the
exact request so that re-scoring never pays twice. The API key comes from an environment
variable only; it is never written anywhere.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from curate.core.errors import UserError
from curate.core.hashing import sha256_obj, short_id


_KEYLIKE = re.compile(r"(?i)\b((?:sk|hf|pk|rk|gsk|xai|key)[-_][A-Za-z0-9_\-]{8,})")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',}]+")
_ASSIGNED = re.compile(r"(?i)((?:api[_-]?key|access[_-]?token|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)"
                       r"[^\s\"'&,}]+")
SECRET_QUERY = ("key", "api_key", "apikey", "api-key", "token", "access_token", "secret", "password", "sig", "signature")


def redact_url(url: str) -> str:
    """A base_url as it may be stored: no user:password@ and no key-like query values."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
    if "@" in parts.netloc:
        netloc = "***@" + netloc
    query = urlencode([(k, "***" if k.lower() in SECRET_QUERY else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Text from or about an endpoint (error bodies, exception messages) with keys removed: the known
    secrets themselves, `Bearer ...`, `api_key=...`/`"token": "..."` and sk-/hf-style key shapes."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    text = _ASSIGNED.sub(r"\1***", text)
    return _KEYLIKE.sub("***", text)


def _url_secrets(url: str) -> tuple[str, ...]:
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    out = [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_QUERY]
    if parts.password:
        out.append(parts.password)
    if parts.username and parts.password is None:
        out.append(parts.username)  # https://KEY@host
    return tuple(out)


class JudgeError(Exception):
    """The judge gave no usable answer for one request; ``kind`` is the counted reason."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class JudgeClient:
    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, max_retries: int = 3, backoff_s: float = 1.0,
                 requests_per_minute: float = 60.0, max_consecutive_failures: int = 5,
                 temperature: float = 0.0, max_tokens: int = 256, cache_dir: str | Path | None = None):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.key = None
        if api_key_env:
            self.key = os.environ.get(api_key_env)
            if not self.key:
                raise UserError(f"judge: environment variable {api_key_env} is not set",
                                hint=f"export {api_key_env}=... (or judge.api_key_env: null for an endpoint without auth)")
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self.max_consecutive_failures = max_consecutive_failures
        self.temperature, self.max_tokens = temperature, max_tokens
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._consecutive_failures = 0
        self.requests_sent = 0
        self.cache_hits = 0
        self.cache_path = (Path(cache_dir) / f"{short_id([self.url, model])}.jsonl") if cache_dir else None
        self._cache: dict[str, str] = {}
        if self.cache_path and self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self._cache[rec["key"]] = rec["content"]

    def _clean(self, text: str) -> str:
        return redact(text, (self.key, *_url_secrets(self.url)))

    def describe(self) -> dict:
        return {"url": redact_url(self.url), "model": self.model, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "max_retries": self.max_retries,
                "requests_per_minute": 60.0 / self.interval if self.interval else None}

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            payload = json.loads(resp.read().decode("utf-8"))
        try:
            return payload["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise JudgeError("judge_bad_response",
                             f"no choices[0].message.content in {self._clean(str(payload))[:200]}") from None

    def complete(self, messages: list[dict]) -> str:
        """The judge's answer text (cached); raises JudgeError after bounded retries."""
        request = {"model": self.model, "messages": messages, "temperature": self.temperature,
                   "max_tokens": self.max_tokens}
        key = sha256_obj(request)
        if key in self._cache:
            self.cache_hits += 1
            return self._cache[key]
        if self._consecutive_failures >= self.max_consecutive_failures:
            raise JudgeError("judge_unreachable", f"gave up after {self._consecutive_failures} failed requests in a row")
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self._wait_for_slot()
            self.requests_sent += 1
            try:
                content = self._post(body)
            except urllib.error.HTTPError as e:
                reply = self._clean(e.read()[:4096].decode("utf-8", "replace"))  # redact before cutting
                last = f"HTTP {e.code}: {reply[:200]}"
                if e.code == 429 or e.code >= 500:
                    continue
                raise JudgeError("judge_http_error", last) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, json.JSONDecodeError) as e:
                last = self._clean(f"{type(e).__name__}: {e}")
                continue
            with self._lock:
                self._consecutive_failures = 0
                self._cache[key] = content
                if self.cache_path:
                    self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                    with open(self.cache_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"key": key, "content": content}, ensure_ascii=False) + "\n")
            return content
        with self._lock:
            self._consecutive_failures += 1
        raise JudgeError("judge_unreachable", f"{self.max_retries + 1} attempts failed, last: {last}")
