"""The one writer (and reader) of versions: content address, atomic rename, byte-stable files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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


def finished_versions(folder: Path) -> list[Path]:
    """The finished versions in a recipe's build folder, oldest first.

    Finished = a non-hidden subfolder with a manifest (a killed build leaves only `.tmp-*`).
    Order = when its manifest.json was written (file mtime, then id): a cache-hit rebuild writes
    nothing, so it does not move a version; `--force` makes it the latest. The manifest itself holds
    no build time, so that same inputs keep giving byte-identical files.
    """
    subs = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).exists()]
    return sorted(subs, key=lambda d: ((d / MANIFEST).stat().st_mtime_ns, d.name))


def resolve_version_dir(path: str | Path) -> Path:
    """A version folder, or a recipe's build folder meaning its latest finished version (logged)."""
    p = Path(path)
    if (p / MANIFEST).exists():
        return p
    subs = finished_versions(p) if p.is_dir() else []
    if not subs:
        raise UserError(f"{path} is not a version folder (no {MANIFEST})" if p.exists() else f"{path} does not exist",
                        hint="pass builds/<recipe name>/<version id>, as printed by `curate build`")
    if len(subs) > 1:
        import logging

        logging.getLogger(__name__).info(
            "%s: using its latest version %s (of %d: %s; pass a version folder to choose)", path, subs[-1].name,
            len(subs), ", ".join(d.name for d in reversed(subs)))
    return subs[-1]


def load_version(path: str | Path) -> Version:
    """Open a version folder, or a recipe's build folder (its latest finished version)."""
    p = resolve_version_dir(path)
    try:
        manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p / MANIFEST} is not valid JSON: {e}") from None
    return Version(dir=p, manifest=manifest)


def write_parquet(table: pl.DataFrame, path: Path) -> None:
    """Byte-stable Parquet: fixed compression, no statistics that depend on timing."""
    table.write_parquet(path, compression="zstd", compression_level=3, statistics=True, use_pyarrow=False)


def write_json(obj: dict, path: Path) -> None:
    """JSON as every zhtune record is written (stable key order as given); replaced atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """Installed versions of `names` (None when absent), for manifests and run/eval records."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@contextmanager
def atomic_dir(final: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success rename it to `final`, on error remove it.

    A killed writer leaves only a `.tmp-<name>-*` folder, which the next writer of that name cleans
    up. If `final` already exists it is kept (same content address, e.g. a concurrent build) unless
    `replace` is set (a forced recompute).
    """
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(final)
    os.replace(tmp, final)


class VersionWriter:
    """Where a version goes (`<out_root>/<name>/<id>/`); written through `atomic_dir`."""

    def __init__(self, out_root: Path, name: str, version_id: str):
        self.final = out_root / name / version_id

    def exists(self) -> bool:
        return (self.final / MANIFEST).exists()

    def open(self, replace: bool = False):
        return atomic_dir(self.final, replace=replace)
