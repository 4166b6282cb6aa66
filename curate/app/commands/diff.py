"""curate diff VERSION_A VERSION_B: recipe keys, inputs, records by source/type (by id), mix and funnel."""

from __future__ import annotations

import argparse
import json

HELP = "show what changed between two versions (text, or --json)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="VERSION_A", help="the older version folder")
    p.add_argument("b", metavar="VERSION_B", help="the newer version folder")
    p.add_argument("--json", action="store_true", help="print the full diff as JSON (every added/removed id)")
    p.add_argument("--ids", type=int, default=5, metavar="N", help="ids shown per source/type in text (default 5)")


def run(args: argparse.Namespace) -> int:
    from curate.diff import diff_versions, render_text
    from curate.core.version import load_version

    d = diff_versions(load_version(args.a), load_version(args.b))
    if args.json:
        print(json.dumps(d, ensure_ascii=False, indent=2))
    else:
        print(render_text(d, show_ids=args.ids), end="")
    return 0
