"""The `curate` console script: one parser, subcommands looked up in a registry.

Each subcommand lives in a module exposing ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Those modules must stay light at import time (no torch,
transformers or datasets at top level) so that ``curate --help`` and ``curate build``
start fast; heavy imports go inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from curate.core.errors import UserError

# name -> module; order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "build": "curate.app.commands.build",
    "diff": "curate.app.commands.diff",
    "export": "curate.app.commands.export",
    "publish": "curate.app.commands.publish",
    "train": "curate.app.commands.train",
    "eval": "curate.app.commands.eval",
    "ablate": "curate.app.commands.ablate",
    "vocab": "curate.app.commands.vocab",
}


def _available() -> dict[str, object]:
    mods = {}
    for name, modname in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(modname)
        except ModuleNotFoundError as e:  # a subcommand not built yet, or its extra not installed
            if e.name and (modname == e.name or modname.startswith(e.name + ".")):
                continue
            raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    from curate import __version__

    parser = argparse.ArgumentParser(
        prog="curate",
        description="zhtune: curate, train, evaluate and ablate Chinese instruction-tuning data.",
    )
    parser.add_argument("--version", action="version", version=f"zhtune {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (debug), e.g. curate -v build r.yaml")
    parser.add_argument("-q", "--quiet-logs", dest="quiet_logs", action="store_true",
                        help="log warnings and errors only (results are still printed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, mod in _available().items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from curate.core.logs import setup

    setup(-1 if args.quiet_logs or getattr(args, "quiet", False) else args.verbose)
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        message = f"error: {e}".encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate from input
        print(message, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
