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


def _dry_run_folder(out: Path) -> Path:
    from curate.errors import UserError

    if out.exists() and any(out.iterdir()):
        if not (out / "README.md").exists():
            raise UserError(f"{out} exists and is not an earlier dry run (no README.md)", hint="pass another --out")
        shutil.rmtree(out)
    return out


def run(args: argparse.Namespace) -> int:
    from curate.publish.hub import FolderHub, HfHub
    from curate.publish.push import publish
    from curate.version import load_version

    version = load_version(args.version)
    if args.dry_run:
        out = _dry_run_folder(Path(args.out or Path("publish") / version.name / version.id))
        hub = FolderHub(out)
    else:
        hub = HfHub()
    try:
        res = publish(version, args.repo, hub, private=args.private, tag=args.revision_tag)
    except Exception as e:  # a Hub refusal (auth, conflict, network) is one line, not a traceback
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(e, HfHubHTTPError):
            from curate.errors import UserError

            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"the Hub refused the push: {first}",
                            hint="check --repo and your write access; a re-run is safe (the tag is created last)") from None
        raise
    for note in res.notes:
        print(note)
    if args.dry_run:
        print(f"dry run: nothing uploaded; {args.repo} would receive (configs `{res.config}`, tag `{res.tag}`):")
        for f in sorted(p for p in out.rglob("*") if p.is_file()):
            print(f"  {f.relative_to(out)}  {f.stat().st_size} bytes")
        print(out)
    else:
        print(f"published {version.id} to https://huggingface.co/datasets/{args.repo} "
              f"(configs `{res.config}`, tag `{res.tag}`, commits {', '.join(c[:8] for c in res.commits)})")
        for config in res.config.split(", "):
            print(f"load it: load_dataset({args.repo!r}, {config!r}, revision={res.tag!r})")
    return 0
