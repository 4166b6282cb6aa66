"""Byte-stable matplotlib figures for the build report, and a second process that renders them.

Laying out and rendering a report figure costs 0.1-0.25 s, and a build draws about seven. A big build
starts `FigureRenderer` (a `python -m curate.figures` child) while it cleans, so the child's matplotlib
import runs on the other core; `save_figure` then sends every other figure there (pickled) and renders
the rest itself. Both processes render with the same code and settings: the same bytes
(tests/test_report_plots.py checks). `finish_figures()` waits for the child before the files are hashed.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

RENDER_AHEAD_RECORDS = 20_000  # builds of fewer records render inline (the child would not pay back)


def pyplot():
    """matplotlib.pyplot on the Agg backend, with a fixed SVG salt: byte-stable plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "zhtune"
    return plt


def render(fig, path: str | Path) -> None:
    """Lay out and write a figure without a version string in its metadata (byte-stable)."""
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})


class FigureRenderer:
    """A child process rendering pickled figures; replies (path, error) in order."""

    def __init__(self):
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.proc = subprocess.Popen([sys.executable, "-m", "curate.figures"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.sent: dict[str, bytes] = {}  # path -> pickled figure, until the child says it is written
        self.local = 0

    def submit(self, fig, path: Path) -> bool:
        """Send a figure to the child (every other one); False: render it here."""
        if len(self.sent) > self.local:
            self.local += 1
            return False
        try:
            data = pickle.dumps(fig)
            pickle.dump((str(path), data), self.proc.stdin)
            self.proc.stdin.flush()
        except Exception:  # noqa: BLE001 - unpicklable figure or a dead child: render here
            return False
        self.sent[str(path)] = data
        return True

    def finish(self) -> None:
        """Wait for every figure sent; one the child could not write is rendered here."""
        try:
            self.proc.stdin.close()
            for _ in range(len(self.sent)):
                path, error = pickle.load(self.proc.stdout)
                if error is None:
                    self.sent.pop(path)
        except Exception:  # noqa: BLE001 - the child died: what it did not confirm is rendered below
            pass
        self.proc.wait()
        for path, data in self.sent.items():
            pyplot()
            render(pickle.loads(data), path)
        self.sent.clear()


_renderer: FigureRenderer | None = None


def start_renderer(records: int) -> None:
    """For a build of `records` records: start the child that renders half the report's figures."""
    global _renderer
    if _renderer is None and records >= RENDER_AHEAD_RECORDS and os.environ.get("ZHTUNE_FIGURE_PROCESS", "1") != "0":
        _renderer = FigureRenderer()


def finish_figures() -> None:
    """Every figure of this build on disk; the child stopped."""
    global _renderer
    renderer, _renderer = _renderer, None
    if renderer is not None:
        renderer.finish()


def save_figure(fig, path: Path) -> None:
    """Write a figure (byte-stable), here or in the renderer child when one runs."""
    if _renderer is None or not _renderer.submit(fig, path):
        render(fig, path)


def _serve() -> None:
    """The child: render (path, pickled figure) requests from stdin until it closes."""
    import queue

    plt = pyplot()
    inbox: queue.Queue = queue.Queue()

    def read() -> None:  # read ahead, so the parent never blocks on a full pipe while we render
        try:
            while True:
                inbox.put(pickle.load(sys.stdin.buffer))
        except Exception:  # noqa: BLE001 - EOF (the parent is done) or a broken pipe: stop
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    out = sys.stdout.buffer
    while (job := inbox.get()) is not None:
        path, data = job
        try:
            fig = pickle.loads(data)
            render(fig, path)
            plt.close(fig)
            error = None
        except Exception as e:  # noqa: BLE001 - reported back; the parent renders it itself
            error = f"{type(e).__name__}: {e}"
        pickle.dump((path, error), out)
        out.flush()


if __name__ == "__main__":
    _serve()
