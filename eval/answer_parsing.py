"""Answer parsing for generate-and-parse multiple choice: text -> option letters, or None.

Tried in order, first hit wins: an explicit "答案是B" / "答案：AB" (the last such statement, so a
chain of thought's conclusion beats letters mentioned on the way), a letter at the very start
("B", "B.", "(B)"), the full text of exactly one option, then the first standalone letter.
"""

from __future__ import annotations

import re
import unicodedata

_SEP = r"\s*[,，、和与及/]?\s*"
_EXPLICIT = re.compile(r"(?:答案|选项|正确选项|应选|选择|故选|所以选)\s*(?:是|为|应为|应该是|应该选)?\s*[:：]?\s*[\(（【\[]?\s*"
                       r"([A-J](?:" + _SEP + r"[A-J])*)(?![A-Za-z])")
_LEADING = re.compile(r"^\s*[\(（【\[]?\s*([A-J](?:" + _SEP + r"[A-J])*)(?![A-Za-z])")
_STANDALONE = re.compile(r"(?<![A-Za-z])([A-J])(?![A-Za-z])")


def _letters(group: str, valid: str) -> str:
    return "".join(c for c in group if c in valid)


def parse_choice(text: str, options: dict[str, str], *, multi_answer: bool = False) -> str | None:
    """The chosen letters (sorted; one letter unless ``multi_answer``), or None when nothing parses."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    valid = "".join(options)

    def finish(letters: str) -> str | None:
        if not letters:
            return None
        return "".join(sorted(set(letters))) if multi_answer else letters[0]

    explicit = [m.group(1) for m in _EXPLICIT.finditer(t)]
    for group in reversed(explicit):
        if got := _letters(group, valid):
            return finish(got)
    if (m := _LEADING.match(t)) and (got := _letters(m.group(1), valid)):
        return finish(got)
    hits = [k for k, v in options.items() if v.strip() and unicodedata.normalize("NFKC", v).strip() in t]
    if len(hits) == 1:
        return hits[0]
    for m in _STANDALONE.finditer(t):
        if m.group(1) in valid:
            return finish(m.group(1))
    return None
