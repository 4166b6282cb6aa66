"""curate export VERSION_DIR --to llamafactory|axolotl|trl|jsonl: files + the config snippet each tool reads."""

from __future__ import annotations

import argparse

from curate.export_targets import TARGETS

HELP = "export a version for LLaMA-Factory, axolotl, TRL or as plain JSONL (with config snippets)"


TOOLS = tuple(TARGETS)  # from the light registry, so `curate --help` does not import polars


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("version", help="version folder, as printed by `curate build`")
    p.add_argument("--to", required=True, choices=TOOLS, help="target trainer / format")
    p.add_argument("--out", default=None, help="output folder (default: exports/<name>/<version>/<tool>/)")


def run(args: argparse.Namespace) -> int:
    from curate.export import export_version
    from curate.core.version import load_version

    out, manifest = export_version(load_version(args.version), args.to, args.out)
    for name, f in manifest["files"].items():
        print(f"  {name}  {f['records']} records")
    for name in manifest["config"]:
        print(f"  {name}")
    print(out)
    return 0
