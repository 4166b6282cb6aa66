"""Content categories of a record (code, translation, math, multi-turn, other): simple, documented rules.

One category per record, first match wins (the precedence of `CATEGORIES`):

1. `multi-turn`  — more than one user turn.
2. `code`        — a reply has `CODE_LINES` code-like lines (`def f(`, `import x`, `#include`,
                   `SELECT … FROM`, a hanzi-free line ending in `;` or `{`, a lone `}` …), or a fenced
                   block with one; or the prompt asks about code (代码, 编程, 写…程序/函数, Python, C#, SQL …).
3. `translation` — the prompt asks to translate (翻译, 译成, translate …) or for English output
                   (英文单词, 用英语, 英文怎么说 …).
4. `math`        — the prompt's start asks a maths question (数学题, 求…值, 还剩几个？ next to a number …),
                   or names a maths topic (数学, 方程, 概率 …) next to a number; or a reply writes
                   arithmetic (`8÷4=2`, `3 sandwiches x 2 = 6`, `x = 5`), English included (GSM8K, AQuA).
5. `other`       — everything else (records that could not be parsed have no turns: `other`).

The rules read only the text of `messages` and `rejected` and give the same answer before and after
`normalize` and `convert` (indentation optional, Traditional spellings and full-width operators
listed), so a category computed on a version's kept and rejected tables is the category of the
record as loaded. Rules in words and precision measured on the real slices: docs/categories.md.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

CATEGORIES = ("multi-turn", "code", "translation", "math", "other")
CODE_LINES = 2  # code-like lines a reply needs (fences count at once)


def _words(alts: str) -> str:
    """ASCII words inside any text: hanzi count as word characters for `\b`, so spell the edges out."""
    return rf"(?:^|[^A-Za-z0-9_])(?:{alts})(?:[^A-Za-z0-9_]|$)"


# programming languages and tools; English homographs (shell, ruby, rust, swift, react, go, code) are left out
_LANGS = (r"python|java(?:script)?|c\+\+|c#|golang|kotlin|php|typescript|sql|html|css|bash|matlab|node\.?js|django"
          r"|docker|git|npm|regex|vba|api|programming|source code|code snippet|(?:write|the|this|following) code")
# the prompt asks about code (an app 应用程序, an equation 方程式, a programmer 程序员: removed before matching;
# 脚本 is as often a film or sales script)
NOT_CODE = "应用程序|應用程式|应用|應用|方程式|程序员|程序員|程式設計師"
CODE_ASK = ("(?i)代码|代碼|编程|編程|源码|源碼|正则表达式|正則表達式"
            "|(?:写|寫|编写|編寫|实现|實現|设计|設計|生成|创建|創建)[^。！？\n]{0,12}(?:程序|程式|函数|函數)"
            "|" + _words(_LANGS))
# one line of a reply that looks like source code (indentation optional: normalize strips it);
# a line ending in ; or { counts only without hanzi and with a 2-letter word (not "2x+12=56;")
CODE_LINE = (r"(?m)^[ \t]*(?:def \w+\(|class \w+[(:{ ]|import [\w.]+$|from [\w.]+ import |#include|using System|package \w|"
             r"(?:public|private|protected) \w|function \w*\(|(?:const|let|var) \w+ ?=|"
             r"(?i:select) .+ (?i:from) |(?i:create table) |print\(|console\.log\(|System\.out\.|fn \w+\(|func \w+\(|"
             r"<(?:div|html|body|script|span|table|head)[ >/]|[^\p{Han}\n]*[A-Za-z_]{2}[^\p{Han}\n]*[;{]$|\}[;)]*$)")
FENCE = "```"
TRANSLATION_ASK = ("(?i)翻译|翻譯|译成|譯成|译为|譯為|中译英|英译中|中譯英|英譯中"
                   "|(?:英文|英语|英語)(?:单词|單詞|词汇|詞彙|句子|短语|短語|名|怎么说|怎麼說|表达|表達|版本|回答|写|寫)"
                   "|(?:用|以|写成|寫成|转换成|轉換成|成)(?:英文|英语|英語)"
                   "|" + _words(r"translate[sd]? (?:the|this|these|following|it|into|to|from)|translation of"
                                r"|(?:write|answer|respond|reply|say)\w*[^.\n]{0,20} in english"))
_UNITS = ("个|個|只|隻|本|颗|顆|支|根|块|塊|元|角|岁|歲|天|人|名|次|页|頁|条|條|辆|輛|朵|张|張|杯|倍|米|厘米|千米|公里"
          "|步|克|千克|公斤|斤|小时|小時|分钟|分鐘|秒|度|升|毫升|袋|盒|箱|瓶|件|份|双|雙|套|组|組|道|钱|錢|[？?]|$")
# a question for a count or amount ("还剩几个？", "多少钱", "how many") in a prompt that holds a number (not a
# year); 几个 must end a question: "以下几个方面", "几个世纪" say "several"
COUNT_ASK = rf"(?:几|幾)(?:{_UNITS})[^，。,\n]{{0,8}}(?:[？?]|$)|多少(?:{_UNITS})|[Hh]ow (?:many|much)"
_NUMERAL = "[0-9０-９两二三四五六七八九十百千万]"  # 一 is left out: 一个/一种 are in every sentence
YEAR = "[0-9０-９]{4} ?年"  # "2019年…是多少" asks no sum
# a maths word that is also a topic of talk (a course, "Drake方程", 概率思维): counts only with a number
MATH_TOPIC = "(?i)数学|數學|方程|几何|幾何|概率|函数|函數|平均值|平均数|平均數|中位数|中位數|标准差|標準差|" + _words(r"equations?|math\w*")
NUMBER = r"\d|[=+×÷^√π%]"
MATH_ASK = ("(?i)数学题|數學題|数学问题|數學問題|应用题|應用題|算式|公因数|公倍数|公约数|公約數"
            "|求[^。！？\n]{0,10}(?:值|解|和|积|積|面积|面積|周长|周長|体积|體積)|等于几|等於幾|等于多少|等於多少"
            r"|计算[^。！？\n]{0,15}\d|計算[^。！？\n]{0,15}\d|(?:计算|計算)[^。！？\n]{0,10}(?:面积|面積|周长|周長|体积|體積|平均|总和|總和)"
            r"|\d[^，。\n]{0,6}(?:加上|减去|減去|乘以|除以)[^，。\n]{0,6}\d|平方根|立方根|百分之|质数|質數|素数|素數"
            "|" + _words(r"solve for"))
# not maths: computing (计算机), asking (要求, 请求 … hold 求), deleting (删除以下 holds 除以), 化学方程式
NOT_MATH = "计算机|計算機|超级计算|超級計算|量子计算|量子計算|云计算|雲計算|要求|请求|請求|需求|追求|寻求|尋求|删除|刪除|化学方程|化學方程"
MATH_PROMPT_CHARS = 200  # a long prompt (an article, a role-play) names maths in passing: read its start only
# arithmetic in a reply; full-width operators too (the record as loaded, before normalize's NFKC)
_OP, _EQ = r"[+\-*/×÷＋－＊／]", "[=＝]"
ARITHMETIC = (rf"\d[^\s=＝]{{0,4}} ?{_OP} ?[(（]?\$?\d[^=＝\n]{{0,30}}{_EQ} ?-?\$?\d"
              r"|[0-9][ -<>-~]{0,25} (?:[+\-*/]|x) \$?[0-9][ -<>-~]{0,25}= ?\$?[0-9]"  # English, units between
              rf"|{_EQ} ?\d+(?:\.\d+)? ?{_OP} ?\d|(?:^|[^A-Za-z])[a-z] ?{_EQ} ?-?\d|\d+/\d+ ?[:=]")


def _user_text() -> pl.Expr:
    return pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content")).list.join("\n")


def _reply_text() -> pl.Expr:
    replies = pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role") == "assistant").struct.field("content")).list.join("\n")
    return pl.concat_str([replies, pl.col("rejected").fill_null("")], separator="\n")


def signals() -> dict[str, pl.Expr]:
    """The evidence each rule looks at, one boolean per record (for the category and its docs)."""
    prompt, reply = _user_text(), _reply_text()
    start = prompt.str.slice(0, MATH_PROMPT_CHARS).str.replace_all(NOT_MATH, "")
    code_lines = reply.str.count_matches(CODE_LINE)
    return {
        "multi_turn": pl.col("messages").list.eval(pl.element().struct.field("role") == "user").list.sum() > 1,
        "code_reply": (code_lines >= CODE_LINES) | (reply.str.contains(FENCE, literal=True) & (code_lines >= 1)),
        "code_ask": prompt.str.replace_all(NOT_CODE, "").str.contains(CODE_ASK),
        "translation_ask": prompt.str.contains(TRANSLATION_ASK),
        "math_ask": start.str.contains(MATH_ASK) | (start.str.contains(MATH_TOPIC) & start.str.contains(NUMBER))
                    | (start.str.contains(COUNT_ASK) & start.str.replace_all(YEAR, "").str.contains(_NUMERAL)),
        "arithmetic_reply": reply.str.contains(ARITHMETIC),
    }


def category_expr() -> pl.Expr:
    """One category (a string of `CATEGORIES`) per record, from its `messages` and `rejected`."""
    s = signals()
    return (pl.when(s["multi_turn"]).then(pl.lit("multi-turn"))
            .when(s["code_reply"] | s["code_ask"]).then(pl.lit("code"))
            .when(s["translation_ask"]).then(pl.lit("translation"))
            .when(s["math_ask"] | s["arithmetic_reply"]).then(pl.lit("math"))
            .otherwise(pl.lit("other"))).alias("category")


def category_counts(frame: pl.DataFrame, pos: pl.Expr) -> Counter:
    """(type, category, funnel position) -> records: what `category_rows` sums (per chunk on Ray)."""
    if frame.height == 0:
        return Counter()
    tagged = frame.select("type", category_expr(), pos.alias("pos")).group_by("type", "category", "pos").len()
    return Counter({(t, c, p): n for t, c, p, n in tagged.iter_rows()})


def category_rows(funnel: list[dict], counts: Counter) -> list[dict]:
    """Records in and rejected per stage x data type x category, from `category_counts` of the version's tables.

    A record entered a stage when it was kept at the end (position = len(funnel)) or rejected at that
    stage or a later one, so the kept (train + test, each input record once) and rejected tables give
    every stage's counts. Rows follow the funnel's stage order, then type, then `CATEGORIES`; raises
    when a stage's total does not match the funnel (records lost between the tables and the funnel: a bug).
    """
    groups = sorted({(t, c) for t, c, _ in counts}, key=lambda tc: (tc[0], CATEGORIES.index(tc[1])))
    rows = []
    for i, step in enumerate(funnel):
        total = 0
        for t, c in groups:
            n_in = sum(n for (t2, c2, p), n in counts.items() if (t2, c2) == (t, c) and p >= i)
            total += n_in
            if n_in:
                rows.append({"stage": step["stage"], "type": t, "category": c, "in": n_in,
                             "rejected": counts.get((t, c, i), 0)})
        if total != step["in"]:
            raise RuntimeError(f"category counts of stage {step['stage']}: {total} records in, funnel says {step['in']}")
    return rows


def kept_category_counts(kept: pl.DataFrame) -> dict[tuple[str, str], int]:
    """Records per (data type, category) in a table (e.g. a version's train + test)."""
    if kept.height == 0:
        return {}
    return {(t, c): n for t, c, n in kept.select("type", category_expr()).group_by("type", "category").len().iter_rows()}
