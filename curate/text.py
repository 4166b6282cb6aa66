"""Vectorised access to the text inside records (polars expressions over `messages`)."""

from __future__ import annotations

import re
from typing import Callable, Literal

import polars as pl

Scope = Literal["instruction", "conversation", "assistant", "prompt"]


def map_text(table: pl.DataFrame, fn: Callable[[pl.Expr], pl.Expr]) -> pl.DataFrame:
    """Apply a string expression to every turn's content and to `rejected`."""
    return table.with_columns(
        pl.col("messages").list.eval(pl.element().struct.with_fields(fn(pl.field("content")))),
        fn(pl.col("rejected")),
    )


def contents_expr(role: str | None = None) -> pl.Expr:
    """List of turn contents (optionally of one role) per record."""
    if role is None:
        return pl.col("messages").list.eval(pl.element().struct.field("content"))
    return pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role") == role).struct.field("content"))


def text_expr(scope: Scope = "conversation") -> pl.Expr:
    """One string per record: the first user turn, the prompt turns, assistant turns, or everything."""
    if scope == "instruction":
        return contents_expr("user").list.first().fill_null("")
    if scope == "assistant":
        return contents_expr("assistant").list.join("\n")
    if scope == "prompt":
        return pl.col("messages").list.slice(0, pl.col("messages").list.len() - 1).list.eval(
            pl.element().struct.field("content")).list.join("\n")
    return pl.concat_str([contents_expr().list.join("\n"), pl.col("rejected").fill_null("")], separator="\n").str.strip_chars("\n")


def map_contents(table: pl.DataFrame, fn: Callable[[list], list], only: str | None = None) -> pl.DataFrame:
    """Apply a Python batch function to every turn's content and to `rejected`, in one call each.

    Works on the Arrow buffers (offsets kept), so the per-record cost is only `fn`'s own. With
    `only` (a polars regex), only the texts it matches reach `fn`; the others are kept as they are.
    """
    import pyarrow as pa

    if table.height == 0:
        return table
    msgs = table["messages"].to_arrow()
    msgs = msgs.combine_chunks() if isinstance(msgs, pa.ChunkedArray) else msgs
    if msgs.offset:  # a sliced array: rebase so offsets start at 0
        msgs = pa.concat_arrays([msgs])
    values = msgs.values
    roles, contents = values.field("role"), values.field("content")
    new_contents = _map_series(pl.Series(contents), fn, only).to_arrow()
    struct = pa.StructArray.from_arrays([roles, new_contents.cast(contents.type)], names=["role", "content"])
    rebuilt = pa.ListArray.from_arrays(msgs.offsets, struct, mask=msgs.is_null())
    return table.with_columns(pl.Series("messages", rebuilt).cast(table.schema["messages"]),
                              _map_series(table["rejected"], fn, only).alias("rejected"))


def _map_series(texts: pl.Series, fn: Callable[[list], list], only: str | None) -> pl.Series:
    """fn over the non-null texts of a string Series (those matching `only`, if given), in place."""
    picked = texts.is_not_null() if only is None else texts.str.contains(only).fill_null(False)
    idx = picked.arg_true()
    if idx.len() == 0:
        return texts
    return texts.clone().scatter(idx, pl.Series(fn(texts.gather(idx).to_list()), dtype=pl.String))


# A text of hanzi, digits, spaces and punctuation that prose() leaves alone (no ` ; { } # @, no letters):
# its prose is itself and its script is zh. Polars (Rust) regex, for whole-table shortcuts.
PLAIN_HAN_TEXT = (r"^[\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{3000}-\x{303F}\x{FF01}-\x{FF20}"
                  r"\x{FF3B}-\x{FF40}\x{FF5B}-\x{FF65}0-9\s!-\"$-:<-?\[-_|~]*$")


def plain_han_expr(texts: pl.Expr) -> pl.Expr:
    """True for a list of texts that are all PLAIN_HAN_TEXT."""
    return texts.list.eval(pl.element().str.contains(PLAIN_HAN_TEXT)).list.all()


# --- prose and script: plain-Python helpers shared by the language and filter stages -------------
CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.S)  # a fenced block, or an unclosed fence to the end
INLINE_CODE = re.compile(r"`[^`\n]+`")
URL = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.]+")
# an unfenced line of code: it ends in ; { } (Chinese prose ends in ；), or starts like a declaration
CODE_LINE = re.compile(r"^[ \t]*(?:#include|#define|#!|import |from \S+ import |def |class |public |private |return |void |"
                       r"function |const |let |var |SELECT |CREATE |INSERT )[^\n]*$|^[^\n]*[;{}][ \t]*$", re.M)
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u31f0-\u31ff\uff66-\uff9d]")  # without ー・, which Chinese text borrows
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
LETTER = re.compile(r"[^\W\d_]")
# a segment ends at a line break, a colon or a quotation mark: "翻译成中文：The quick brown fox" is two
SEGMENT_END = re.compile(r"[\n:：“”\"「」『』]+")
# a parenthesised gloss right after Chinese: 氢（Hydrogen, H）, 好吃吗？(Does it taste good?)
GLOSS = re.compile(r"(?<=[\u3400-\u9fff\u3000-\u303f\uff01-\uff1f])\s*[（(][^（）()\n]{1,120}[）)]")
# where a foreign segment breaks into list items: 、 , ; / | " - " and list numbers
ITEM_END = re.compile(r"[、，,;；/|]|\s[-–—]\s|\s(?:ft|feat)\.\s|^\s*\d+[.)、]\s*", re.M)
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # don't is one word
TERM_WORDS = 3  # a foreign item of at most this many words is a name or a term (BTS, Ed Sheeran), not prose
HAN_WEIGHT = 3  # one hanzi carries about as much language as a short Latin word's letters
# a task about another language: its foreign side (quoted text, the translation, the word list) is material
LANGUAGE_TASK = re.compile(r"翻译|译成|译为|英文|英语|日语|日文|法语|德语|俄语|韩语|西班牙语|外语|单词|词汇|同义词|反义词|"
                           r"拼写|语法|english|translat|grammar|spelling|synonym", re.I)


def prose(text: str) -> str:
    """The prose of a text: fenced code, inline code, unfenced code lines, URLs and e-mail addresses removed."""
    if "`" in text:
        text = INLINE_CODE.sub(" ", CODE_BLOCK.sub(" ", text))
    if ";" in text or "{" in text or "}" in text or "import " in text or "def " in text or "#" in text:
        text = CODE_LINE.sub(" ", text)
    if "http" in text or "www." in text or "@" in text:
        text = URL.sub(" ", text)
    return text


def segments(text: str) -> list[str]:
    """Lines, further cut at colons and quotation marks (where quoted material starts and ends).

    Parenthesised glosses after Chinese (氢（Hydrogen）) are dropped: they annotate, they are not the text.
    """
    if "(" in text or "（" in text:
        text = GLOSS.sub("", text)
    return [s for s in SEGMENT_END.split(text) if s.strip()]


def foreign_prose_letters(segment: str) -> int:
    """Letters of a foreign segment that are prose: items of more than TERM_WORDS words (names and terms don't count)."""
    n = 0
    for item in ITEM_END.split(segment):
        words = WORD.findall(item)
        if len(words) > TERM_WORDS:
            n += sum(map(len, words))
    return n


def script_of(segment: str) -> tuple[str | None, int, int]:
    """(script, weight, hanzi) of a segment; script is zh, ja, ko, or None when the script does not decide.

    Kana (>= 2 and >= 10 % of the CJK characters) make it ja; hangul holding most of its weight, ko;
    hanzi holding at least half of its weight (each hanzi counting HAN_WEIGHT letters), zh: Latin
    names and terms inside a Chinese sentence ("用Python的pandas库读取CSV") do not change that.
    """
    han = len(HAN.findall(segment))
    letters = len(LETTER.findall(segment))
    if not letters:
        return None, 0, 0
    kana = len(KANA.findall(segment)) if han < letters else 0
    hangul = len(HANGUL.findall(segment)) if han < letters else 0
    weight = letters + (HAN_WEIGHT - 1) * han
    if kana >= 2 and kana * 10 >= han + kana:
        return "ja", weight, han
    if hangul * 2 >= letters:
        return "ko", weight, han
    if han * HAN_WEIGHT * 2 >= weight:
        return "zh", weight, han
    return None, weight, han


def joined_prose(messages: list[dict], role: str | None = None) -> str:
    """The prose of a record's turns (of one role, if given), joined by newlines."""
    return "\n".join(prose(m["content"] or "") for m in messages if role is None or m["role"] == role)


def cjk_share(messages: list[dict]) -> float:
    """Hanzi among the letters of a record's prose, counting only what speaks for the record's language.

    Not counted: code, URLs, Latin words inside Chinese sentences, glosses in parentheses, foreign
    names and terms (list items of <= TERM_WORDS words: BTS、EXO; Shape of You - Ed Sheeran), foreign segments of a user turn
    that also holds Chinese (quoted material), and, in tasks about another language (LANGUAGE_TASK
    in a Chinese user turn: translate, English words, grammar...), the foreign segments of replies.
    """
    han = other = 0
    language_task = False
    for m in messages:
        if m["role"] == "system":  # a system prompt says how to answer, not what the task is
            continue
        segs = [script_of(s) + (s,) for s in segments(prose(m["content"] or ""))]
        is_user = m["role"] != "assistant"
        chinese_turn = any(sc == "zh" for sc, _, _, _ in segs)
        if is_user and chinese_turn and LANGUAGE_TASK.search(m["content"] or ""):
            language_task = True
        for sc, _, h, s in segs:
            if sc == "zh":
                han += h
            elif not ((is_user and chinese_turn) or (not is_user and language_task)):
                han += h
                other += foreign_prose_letters(s)
    return han / (han + other) if han + other else 1.0
