"""The `--threads` option shared by the commands that run torch (light: torch is imported only to apply it).

Two torch threads on two busy cores stall (measured 40-120 s vs 16-19 s per SmolLM2 step), so every
command that trains or scores lets the user pin the count.
"""

from __future__ import annotations

import argparse


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (on a shared machine 1 avoids oversubscription stalls)")


def set_torch_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads when a count was given."""
    if threads:
        import torch

        torch.set_num_threads(threads)
