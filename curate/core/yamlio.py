"""YAML: reading the files users write (recipes, ablations, train/eval configs: one clear error, no
traceback), and writing config snippets and card metadata people read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from curate.core.errors import UserError


def read_yaml(path: str | Path, what: str = "file") -> Any:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} not found: {p}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{p}: invalid YAML: {e}") from None


def dump_yaml(obj: Any) -> str:
    """YAML as people read it: Chinese kept as is, keys in their order, block style."""
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, default_flow_style=False)
