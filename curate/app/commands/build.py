"""curate build RECIPE: write a content-addressed version; the last stdout line is its folder."""

from __future__ import annotations

import argparse
import logging
import sys

HELP = "build a versioned, fully accounted mix from a recipe"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="recipe YAML (see recipes/demo.yaml)")
    p.add_argument("--out", default="builds", help="root folder for versions (default: builds/)")
    p.add_argument("--force", action="store_true", help="rebuild even if this version already exists")
    p.add_argument("--quiet", action="store_true", help="no progress bars or funnel; print only the version folder")
    p.add_argument("--engine", choices=["local", "ray"], help="where to run (default: the recipe's run.engine, else local); "
                   "never changes the version (docs/scale.md)")
    p.add_argument("--address", help="ray: cluster to join (`auto`, `ray://host:port`); default: start a local Ray")
    p.add_argument("--workers", type=int, help="ray: CPUs of a local Ray / parallel tasks")


def print_funnel(manifest: dict, seconds: dict[str, float], out=sys.stdout) -> None:
    sources = [i["source"] for i in manifest["inputs"]]
    width = max(len(s["stage"]) for s in manifest["funnel"])
    print(f"{'stage':<{width}}  {'in':>7} {'kept':>7} {'rejected':>8}  {'time':>7}  top reasons", file=out)
    for step in manifest["funnel"]:
        secs = seconds.get(step["stage"])
        reasons = ", ".join(f"{r} {n}" for r, n in list(step["reasons"].items())[:3])
        t = f"{secs:6.2f}s" if secs is not None else "      -"
        print(f"{step['stage']:<{width}}  {step['in']:>7} {step['kept']:>7} {step['rejected']:>8}  {t}  {reasons}", file=out)
    acc = manifest["accounting"]
    print("accounting: " + "; ".join(f"{s} {acc[s]['read']} = {acc[s]['kept']} + {acc[s]['rejected']}" for s in sources), file=out)
    c = manifest["counts"]
    print(f"version {manifest['version']}: train {c['train']}, test {c['test']}, rejected {c['rejected']}", file=out)


def run(args: argparse.Namespace) -> int:
    from curate.build import build

    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    result = build(args.recipe, args.out, quiet=args.quiet, force=args.force, on_wait=say,
                   engine=args.engine, address=args.address, workers=args.workers)
    for note in result.notes:
        say(note)
    if not args.quiet:
        if result.cached:
            logging.getLogger(__name__).info("cache hit: version %s already built; nothing rewritten", result.version)
        print_funnel(result.manifest, result.seconds)
    print(result.dir)
    return 0
