"""curate publish VERSION_DIR --repo user/name: push a version and its dataset card to the Hub."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

HELP = "publish a version to the Hugging Face Hub with a faithful dataset card (or --dry-run to a folder)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("version", help="version folder, as printed by `curate build`")
    p.add_argument("--repo", required=True, help="Hub dataset repo, user/name or org/name")
    p.add_argument("--private", action="store_true", help="create the repo private (ignored if it exists)")
    p.add_argument("--dry-run", action="store_true",
                   help="write exactly what would be uploaded (Parquet + README.md) to --out and validate the card")
    p.add_argument("--revision-tag", metavar="TAG", default=None,
                   help="Hub tag pinning this version (default: <recipe name>-<version id>)")
    p.add_argument("--out", default=None, help="dry-run folder (default: publish/<name>/<version>/)")


# written into every dry-run folder: only a folder holding it is ever emptied by a later dry run
DRY_RUN_MARK = ".zhtune-dry-run"


def _dry_run_folder(out: Path) -> Path:
    """An empty or absent folder, or one an earlier dry run wrote (it holds DRY_RUN_MARK); anything
    else is refused and left untouched: zhtune never deletes a folder it did not create."""
    from curate.core.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} is a file, not a folder", hint="pass another --out")
    if out.exists() and any(out.iterdir()):
        if not (out / DRY_RUN_MARK).is_file():
            raise UserError(f"--out: {out} is not empty and was not written by `curate publish --dry-run`; "
                            "refusing to touch it", hint="pass an empty or new folder as --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / DRY_RUN_MARK).write_text("written by curate publish --dry-run; this folder is replaced by the next one\n",
                                    encoding="utf-8")
    return out


def _unreachable(e: BaseException) -> bool:
    """A network failure (offline, DNS, refused, timeout) from huggingface_hub's httpx/requests stack."""
    mods = [type(x).__module__ for x in (e, e.__cause__, e.__context__) if x is not None]
    return any(m.startswith(("httpx", "httpcore", "requests", "urllib3")) for m in mods) \
        or isinstance(e, (ConnectionError, TimeoutError))


def run(args: argparse.Namespace) -> int:
    from curate.publish.hub import FolderHub, HfHub
    from curate.publish.push import publish
    from curate.core.version import load_version

    from curate.publish.push import check_repo_id

    version = load_version(args.version)
    check_repo_id(args.repo)
    if args.dry_run:
        out = _dry_run_folder(Path(args.out or Path("publish") / version.name / version.id))
        hub = FolderHub(out)
    else:
        hub = HfHub()
    try:
        res = publish(version, args.repo, hub, private=args.private, tag=args.revision_tag)
    except Exception as e:  # a Hub refusal (auth, conflict, network) is one line, not a traceback
        from huggingface_hub.errors import HfHubHTTPError

        from curate.core.errors import UserError

        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, HfHubHTTPError):
            raise UserError(f"the Hub refused the push: {first}",
                            hint="check --repo and your write access; a re-run is safe (the tag is created last)") from None
        if _unreachable(e):
            raise UserError(f"cannot reach the Hugging Face Hub: {type(e).__name__}: {first}",
                            hint="check the network (or HF_ENDPOINT); try --dry-run to write the files locally") from None
        raise
    for note in res.notes:
        print(note)
    if args.dry_run:
        print(f"dry run: nothing uploaded; {args.repo} would receive (configs `{res.config}`, tag `{res.tag}`):")
        for f in sorted(p for p in out.rglob("*") if p.is_file() and p.name != DRY_RUN_MARK):
            print(f"  {f.relative_to(out)}  {f.stat().st_size} bytes")
        print(out)
    else:
        print(f"published {version.id} to https://huggingface.co/datasets/{args.repo} "
              f"(configs `{res.config}`, tag `{res.tag}`, commits {', '.join(c[:8] for c in res.commits)})")
        for config in res.config.split(", "):
            print(f"load it: load_dataset({args.repo!r}, {config!r}, revision={res.tag!r})")
    return 0
