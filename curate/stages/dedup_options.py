"""Options of the dedup stage (both methods); `dedup.py` runs it, `dedup_exact.py`/`dedup_near.py` do the work."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from curate.core.schema import StrictFrozen
from curate.minhash import Tokenizer

NEAR_ONLY = ("threshold", "ngram", "num_perm", "tokenizer", "engine")
DEFAULT_NGRAM = {"char": 3, "jieba": 2}
# minhash compares the whole record by default: a near copy carries its edits in prompt *and* reply,
# and a shared template prompt alone must not make two records near copies (docs/cleaning-dedup.md)
DEFAULT_SCOPE = {"exact": "prompt", "minhash": "conversation"}


class Options(StrictFrozen):
    method: Literal["exact", "minhash"] = "exact"
    # text compared: first user turn, every turn before the final reply, or the whole conversation;
    # default `prompt` for exact, `conversation` for minhash
    scope: Literal["instruction", "prompt", "conversation"] = "prompt"
    threshold: float = Field(0.7, gt=0, le=1)  # minhash: Jaccard similarity of shingle sets
    ngram: int = Field(3, ge=1, le=50)  # minhash: shingle size (characters, or words with jieba; jieba default 2)
    num_perm: int = Field(128, ge=16, le=1024)  # minhash: signature length
    tokenizer: Tokenizer = "char"  # minhash: `char` n-grams or `jieba` word n-grams
    # minhash: `numpy` = zhtune's vectorised signatures (fast); `datasketch` = datasketch.MinHash +
    # MinHashLSH per record (the reference implementation, ~10x slower); both verify by exact Jaccard
    engine: Literal["numpy", "datasketch"] = "numpy"

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "ngram" not in data and data.get("tokenizer") == "jieba":
            data = {**data, "ngram": DEFAULT_NGRAM["jieba"]}
        if "scope" not in data and data.get("method") in DEFAULT_SCOPE:
            data = {**data, "scope": DEFAULT_SCOPE[data["method"]]}
        return data

    @model_serializer(mode="wrap")
    def _only_what_applies(self, handler):
        """The resolved recipe (manifest, version id) lists only the options of the chosen method,
        so it loads back as a recipe."""
        out = handler(self)
        return {k: v for k, v in out.items() if k not in NEAR_ONLY} if self.method == "exact" else out

    @model_validator(mode="after")
    def _near_options_need_minhash(self) -> "Options":
        stray = [k for k in NEAR_ONLY if k in self.model_fields_set]
        if self.method == "exact" and stray:
            raise ValueError(f"{', '.join(stray)} only apply to `method: minhash`")
        return self
