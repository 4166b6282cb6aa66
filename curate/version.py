"""The one writer (and reader) of versions: content address, atomic rename, byte-stable files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curate.errors import UserError

SPLITS = ("train", "test")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Version:
    """A built version folder: `builds/<name>/<id>/`."""

    dir: Path
    manifest: dict

    @property
    def id(self) -> str:
        return self.manifest["version"]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    def split(self, name: str = "train") -> pl.DataFrame:
        path = self.dir / f"{name}.parquet"
        if not path.exists():
            raise UserError(f"version {self.dir} has no {name} split ({path.name} missing)")
        return pl.read_parquet(path)

    def rejected(self) -> pl.DataFrame:
        return pl.read_parquet(self.dir / "rejected.parquet")


def load_version(path: str | Path) -> Version:
    """Open a version folder (or a recipe's build folder holding exactly one version)."""
    p = Path(path)
    if not (p / MANIFEST).exists():
        subs = sorted(d for d in p.glob("*/") if (d / MANIFEST).exists()) if p.is_dir() else []
        if len(subs) == 1:
            p = subs[0]
        else:
            raise UserError(f"{path} is not a version folder (no {MANIFEST})",
                            hint="pass builds/<recipe name>/<version id>, as printed by `curate build`")
    try:
        manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p / MANIFEST} is not valid JSON: {e}") from None
    return Version(dir=p, manifest=manifest)


def write_parquet(table: pl.DataFrame, path: Path) -> None:
    """Byte-stable Parquet: fixed compression, no statistics that depend on timing."""
    table.write_parquet(path, compression="zstd", compression_level=3, statistics=True, use_pyarrow=False)


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


class VersionWriter:
    """Write a version into a temp folder next to its final place, then rename atomically.

    A killed build leaves only a `.tmp-*` folder, which the next build of any version ignores
    and cleans up.
    """

    def __init__(self, out_root: Path, name: str, version_id: str):
        self.final = out_root / name / version_id
        self.parent = self.final.parent
        self.tmp: Path | None = None

    def exists(self) -> bool:
        return (self.final / MANIFEST).exists()

    def __enter__(self) -> Path:
        self.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.parent.glob(f".tmp-{self.final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{self.final.name}-", dir=self.parent))
        self.tmp.chmod(0o755)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.final.exists():  # a concurrent build of the same id won the race: same bytes
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        os.replace(self.tmp, self.final)
