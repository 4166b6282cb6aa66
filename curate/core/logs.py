"""Logging for the `curate` script: `-v` / `-q`, messages on stderr, and progress that behaves in a CI log.

Results (tables, folders, ids) are printed on stdout; what happens along the way is logged on stderr
(INFO by default, DEBUG with -v, warnings only with -q). Progress is a tqdm bar on a terminal
(`disable=None`: no bar when stderr is not a terminal, so a CI log does not get every frame) and,
when there is no terminal, one log line at most every `every_s` seconds and at the end.
"""

from __future__ import annotations

import logging
import sys
import time

PACKAGES = ("curate", "train", "eval")


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest's capture, a redirected stream)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup(verbosity: int = 0) -> None:
    """verbosity -1: warnings only; 0: info; 1+: debug. Safe to call again (replaces its handler)."""
    quiet_known_warnings()
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for h in [h for h in logger.handlers if isinstance(h, _Stderr)]:
            logger.removeHandler(h)
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s" if verbosity <= 0 else "%(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)


class Progress:
    """`with Progress(total, desc) as p: p.update(n)`: a bar on a terminal, log lines otherwise."""

    def __init__(self, total: int | None, desc: str, unit: str = "item", *, quiet: bool = False,
                 every_s: float = 30.0, logger: str = "curate") -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, disable=True if quiet else None)
        self.total, self.desc, self.unit = total, desc.strip(), unit
        self.lines = not quiet and self.bar.disable
        self.log = logging.getLogger(logger)
        self.every_s, self.done = every_s, 0
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        self.done += n
        now = time.monotonic()
        if self.lines and now - self.last >= self.every_s:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        eta = f", ~{(self.total - self.done) / rate:.0f} s left" if self.total and rate > 0 and self.done < self.total else ""
        self.log.info("%s: %d%s %s (%.2f %s/s%s)", self.desc, self.done, of, self.unit + "s", rate, self.unit, eta)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.lines and exc[0] is None and self.done:
            self._line(time.monotonic())


# Library warnings that say nothing to a zhtune user (each matched by its exact text, so any other
# warning of the same class still shows): transformers v5 renaming gradient checkpointing (raised by
# TRL/peft internals and by TrainingArguments itself), and torch's pin_memory note on CPU-only machines.
KNOWN_NOISE = (
    (FutureWarning, r"`(is_)?gradient_checkpointing(_enable|_disable)?` is deprecated and will be removed in v6"),
    (UserWarning, r"'pin_memory' argument is set as true but no accelerator is found"),
)


def quiet_known_warnings() -> None:
    import warnings

    for category, message in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)


def jieba_module():
    """jieba without its "Building prefix dict ... Loading model cost ..." lines on stderr."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def quiet_library_bars() -> None:
    """Without a terminal, the progress bars of datasets / transformers would write every frame into the
    log (a CI log, a redirected stderr): turn them off there; on a terminal they stay."""
    if sys.stderr.isatty():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
