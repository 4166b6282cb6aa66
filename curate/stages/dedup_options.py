"""Options of the dedup stage: one model per method, chosen by `method`; `dedup.py` runs the stage,
`dedup_exact.py`/`dedup_near.py` do the work.

`Options` is the one callable the recipe loader, rebuild and tests use: `Options(**kw)` and
`Options.model_validate(data)` return an `ExactOptions` or a `MinhashOptions` (`method` defaults to
`exact`); `Options.model_for(data)` is the model that validates `data` (for hints and defaults).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from curate.core.schema import StrictFrozen
from curate.minhash import Tokenizer

Scope = Literal["instruction", "prompt", "conversation"]  # first user turn, turns before the final reply, all
DEFAULT_NGRAM = {"char": 3, "jieba": 2}


class _MethodOptions(StrictFrozen):
    @model_validator(mode="before")
    @classmethod
    def _keys_of_the_other_method(cls, data: Any) -> Any:
        """A key that only another method takes is named as such, not as an unknown key."""
        if isinstance(data, dict):
            here = cls.model_fields
            for method, model in METHODS.items():
                stray = [k for k in data if k not in here and k in model.model_fields]
                if model is not cls and stray:
                    keys = ", ".join(f"`{k}`" for k in stray)
                    raise PydanticCustomError("other_method", "{keys} only apply to `method: {method}` (this one has "
                                              "`method: {own}`: set `method: {method}` or drop {keys})",
                                              {"keys": keys, "method": method, "own": here["method"].default})
        return data


class ExactOptions(_MethodOptions):
    method: Literal["exact"] = "exact"
    scope: Scope = "prompt"  # exact copies are found by their prompt (the same question answered twice)


class MinhashOptions(_MethodOptions):
    method: Literal["minhash"] = "minhash"
    # the whole record by default: a near copy carries its edits in prompt *and* reply, and a shared
    # template prompt alone must not make two records near copies (docs/cleaning-dedup.md)
    scope: Scope = "conversation"
    threshold: float = Field(0.7, gt=0, le=1)  # Jaccard similarity of shingle sets
    ngram: int = Field(3, ge=1, le=50)  # shingle size (characters, or words with jieba; jieba default 2)
    num_perm: int = Field(128, ge=16, le=1024)  # signature length
    tokenizer: Tokenizer = "char"  # `char` n-grams or `jieba` word n-grams
    # `numpy` = zhtune's vectorised signatures (fast); `datasketch` = datasketch.MinHash +
    # MinHashLSH per record (the reference implementation, ~10x slower); both verify by exact Jaccard
    engine: Literal["numpy", "datasketch"] = "numpy"

    @model_validator(mode="before")
    @classmethod
    def _jieba_ngram(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ngram" not in data and data.get("tokenizer") == "jieba":
            data = {**data, "ngram": DEFAULT_NGRAM["jieba"]}
        return data


METHODS: dict[str, type[_MethodOptions]] = {"exact": ExactOptions, "minhash": MinhashOptions}
AnyOptions = Annotated[Union[ExactOptions, MinhashOptions], Field(discriminator="method")]
_ANY = TypeAdapter(AnyOptions)


class _Options:
    """`Options(**kw)` / `Options.model_validate(data)`: the options model of `data["method"]`, validated."""

    __name__ = "Options"

    def model_for(self, data: Any) -> type[BaseModel]:
        method = data.get("method", "exact") if isinstance(data, dict) else None
        return METHODS[method] if isinstance(method, str) and method in METHODS else ExactOptions

    def model_validate(self, data: Any) -> ExactOptions | MinhashOptions:
        method = data.get("method", "exact") if isinstance(data, dict) else None
        if isinstance(method, str) and method in METHODS:
            return self.model_for(data).model_validate(data)  # errors name the key, without the method tag
        return _ANY.validate_python({"method": "exact", **data} if isinstance(data, dict) else data)

    def __call__(self, **kw: Any) -> ExactOptions | MinhashOptions:
        return self.model_validate(kw)


Options = _Options()
