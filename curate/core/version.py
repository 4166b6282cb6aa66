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

from curate.core.errors import UserError
from curate.core.parquet import write_parquet  # noqa: F401  (the version files' writer)

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
    subs = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).is_file()]
    return sorted(subs, key=lambda d: ((d / MANIFEST).stat().st_mtime_ns, d.name))


def resolve_version_dir(path: str | Path) -> Path:
    """A version folder, or a recipe's build folder meaning its latest finished version (logged)."""
    p = Path(path)
    if (p / MANIFEST).is_file():
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


def is_unfinished(p: Path) -> bool:
    """Temp (`.tmp-*`) and set-aside (`.old-*`) folders are never versions, whatever they hold."""
    return any(part.startswith((".tmp-", ".old-")) for part in p.parts)


def load_version(path: str | Path, verify: bool = True) -> Version:
    """Open a finished version folder, or a recipe's build folder (its latest finished version).

    With `verify` (the default for export, publish, train) every file the manifest lists is checked
    for size and sha256; a damaged version is a UserError naming the file."""
    p = Path(path)
    if is_unfinished(p):
        raise UserError(f"{path} is an unfinished build (a temp folder), not a version",
                        hint="pass builds/<recipe name>/<version id>, as printed by `curate build`")
    p = resolve_version_dir(p)
    try:
        manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{p / MANIFEST} is not valid JSON: {e}",
                        hint="the version is damaged; rebuild it with `curate build RECIPE --force`") from None
    if not isinstance(manifest, dict) or "version" not in manifest or "name" not in manifest:
        raise UserError(f"{p / MANIFEST} is not a zhtune manifest (no `name`/`version`)")
    version = Version(dir=p, manifest=manifest)
    if verify:
        problems = damaged_files(version)
        if problems:
            raise UserError(f"version {p} is damaged: {'; '.join(problems)}",
                            hint="rebuild it: `curate build RECIPE` notices the damage and writes it again")
    return version


def file_records(folder: Path) -> dict[str, dict]:
    """sha256 and size of every file under a version folder except the manifest (recorded in it)."""
    from curate.core.hashing import sha256_file

    out = {}
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if f.is_file() and rel != MANIFEST:
            out[rel] = {"sha256": sha256_file(f), "size": f.stat().st_size}
    return out


def damaged_files(version: Version) -> list[str]:
    """What is missing, truncated or changed in a version, against its manifest's `files`.

    Manifests written before `files` existed are checked for their splits' presence only."""
    from curate.core.hashing import sha256_file

    listed = version.manifest.get("files")
    if not isinstance(listed, dict):
        return [] if (version.dir / "train.parquet").is_file() else ["train.parquet missing"]
    problems = []
    for rel, rec in listed.items():
        f = version.dir / rel
        if not f.is_file():
            problems.append(f"{rel} missing")
        elif f.stat().st_size != rec.get("size"):
            problems.append(f"{rel} has {f.stat().st_size} bytes, the manifest recorded {rec.get('size')}")
        elif sha256_file(f) != rec.get("sha256"):
            problems.append(f"{rel} changed (sha256 differs from the manifest)")
    return problems


def write_json(obj: dict, path: Path) -> None:
    """JSON as every zhtune record is written (stable key order as given); replaced atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
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


def _live(pid: str) -> bool:
    """Is process `pid` (from a temp folder's name) still running on this machine?"""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dir_lock(final: Path):
    """The lock every writer of `final` holds (a `.<name>.lock` file beside it; left in place on purpose:
    deleting a lock file another process waits on would let two writers in)."""
    from filelock import FileLock

    return FileLock(final.parent / f".{final.name}.lock", is_singleton=True)


def _clean_leftovers(final: Path) -> None:
    """Remove temp/aside folders of `final` whose writer is gone; put back an old folder a killed swap set aside.

    Called with the lock held, so no live zhtune process writes them; the pid in the name guards against
    writers that do not take the lock (older zhtune)."""
    parent = final.parent
    for kind in (".tmp", ".old"):
        for stale in sorted(parent.glob(f"{kind}-{final.name}-*")):
            pid = stale.name[len(f"{kind}-{final.name}-"):].split("-")[0]
            if pid != str(os.getpid()) and _live(pid):
                continue
            if kind == ".old" and not final.exists() and (stale / final.name).is_dir():
                os.replace(stale / final.name, final)  # killed between the two renames of a swap: the old one is still good
            else:
                shutil.rmtree(stale, ignore_errors=True)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` (and `root` itself) to disk before it is renamed."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_dir(final: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success rename it to `final`, on error remove it.

    One writer at a time per `final` (a file lock); a killed writer leaves a `.tmp-<name>-<pid>-*`
    folder, which the next writer removes once that pid is gone. Files and folders are fsynced before
    the rename. If `final` already exists it is kept (same content address, e.g. a concurrent build)
    unless `replace` is set: then the old folder is renamed aside first, the new one renamed in, and
    only then is the old one deleted, so a kill at any point leaves one complete folder.
    """
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    with dir_lock(final):
        _clean_leftovers(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-{os.getpid()}-", dir=parent))
        tmp.chmod(0o755)
        try:
            yield tmp
            fsync_tree(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if final.exists() and not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        aside = None
        if final.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".old-{final.name}-{os.getpid()}-", dir=parent))
            os.replace(final, aside / final.name)
        os.replace(tmp, final)
        fsync_dir(parent)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


class VersionWriter:
    """Where a version goes (`<out_root>/<name>/<id>/`); written through `atomic_dir`."""

    def __init__(self, out_root: Path, name: str, version_id: str):
        self.final = out_root / name / version_id

    def exists(self) -> bool:
        return (self.final / MANIFEST).exists()

    def open(self, replace: bool = False):
        return atomic_dir(self.final, replace=replace)

    def lock(self):
        """Held across "is it built? else build it", so a second build of one version waits, then hits."""
        self.final.parent.mkdir(parents=True, exist_ok=True)
        return dir_lock(self.final)
