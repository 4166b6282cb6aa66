"""Planted audit corpus for the cleaning stages, generated at run time from the real slices.

Nothing of the data is committed: this module reads ../shared/data (ZHTUNE_SHARED_DATA) and
plants, deterministically from a seed, records whose right outcome is known:

| kind | what | expected |
|---|---|---|
| `near_copy` | a real record + 1-2 copies with 1-3 % character edits (substitute, insert, delete; at least one in every turn of 8+ characters) in every turn, plus a punctuation/space change | group ends with one member |
| `traditional_copy` | a real record + its OpenCC s2t copy (+ in half the groups a near copy) | group ends with one member |
| `fullwidth_copy` | a real record with ASCII + its copy with ASCII turned full-width (+ in half the groups a near copy) | group ends with one member |
| `distinct` | real records not copied | keep |
| `template_negative` | records sharing a long template prompt with their own input and reply: real families (a shared prompt prefix of >= 12 characters, e.g. dev1K's 以下是一道小学数学题：), and families built from real alpaca-zh instructions applied to other real records' inputs, each with that record's reply | keep |
| `english` | real records of llamafactory_alpaca_en_demo.json | reject |
| `japanese` | hand-written Japanese instructions and replies (no Japanese-only records in the slices) | reject |

Real duplicates already in the slices (same prompt after `match_key_expr`) are left out, so the
originals are distinct. `truth` has one row per record: `key` (= `meta.file:meta.line`, unique),
`group`, `kind`, `expect` (`one` | `keep` | `reject`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curate.minhash import match_key_expr
from curate.core.records import records_frame, with_ids
from curate.text import text_expr

ZH_SOURCES = {  # meta.file (relative to shared/data) -> loader format
    "belle_train/Belle_open_source_1k.json": "belle",
    "alpaca_style_demo/llamafactory_alpaca_zh_demo.json": "alpaca",
    "sharegpt_zh/sharegpt_zh_1K.json": "sharegpt",
    "belle_train/dev1K.json": "belle",
}
EN_SOURCE = "alpaca_style_demo/llamafactory_alpaca_en_demo.json"
SIZES = {"near_copy": 300, "traditional_copy": 150, "fullwidth_copy": 150, "distinct": 600,
         "template_synthetic": 40, "english": 150}  # template_synthetic: families of 4
MAX_CHARS = 3000  # longer conversations are left out: the corpus stays quick to clean
MIN_EDITED = 8  # a turn this long gets one character edit at least (shorter: the punctuation/space change only)
TEMPLATE_PREFIX = 12  # real template families: prompts sharing this many leading characters

JAPANESE = [
    ("日本の四季について簡単に説明してください。", "日本には春、夏、秋、冬の四つの季節があります。春は桜が咲き、夏は暑くて湿気が多く、秋は紅葉がきれいで、冬は北の地方で雪がたくさん降ります。"),
    ("おすすめの朝ごはんを三つ教えてください。", "ご飯とみそ汁、焼き魚の和食、トーストとゆで卵、それからヨーグルトと果物がおすすめです。どれも簡単に作れます。"),
    ("東京から大阪まで新幹線でどのくらいかかりますか。", "のぞみに乗ると、東京駅から新大阪駅までおよそ二時間半かかります。ひかりだと三時間ぐらいです。"),
    ("よく眠るためのコツを教えてください。", "寝る前にスマートフォンを見ないこと、毎日同じ時間に寝ること、夕方からはコーヒーを飲まないことが大切です。"),
    ("この文章を丁寧な言い方に書き直してください：明日は来られない。", "申し訳ございませんが、明日はお伺いすることができません。"),
    ("猫と犬、どちらがペットとして飼いやすいですか。", "猫は散歩がいらないので忙しい人に向いています。犬は毎日の散歩が必要ですが、しつけをすればとても仲良くなれます。"),
    ("ひらがなとカタカナの違いは何ですか。", "ひらがなは主に日本語の言葉や文法に使われ、カタカナは外国から来た言葉や強調したい言葉によく使われます。"),
    ("健康のために毎日できる運動を教えてください。", "毎日三十分ぐらい歩くこと、階段を使うこと、寝る前に軽くストレッチをすることなどが手軽にできます。"),
    ("カレーライスの作り方を簡単に教えてください。", "玉ねぎ、にんじん、じゃがいもと肉を炒めてから水を入れて煮ます。野菜がやわらかくなったらルーを入れて、とろみが出るまで煮込めば出来上がりです。"),
    ("雨の日の楽しい過ごし方はありますか。", "家で映画を見たり、本を読んだり、お菓子を作ったりするのはいかがでしょうか。友だちとオンラインでゲームをするのも楽しいです。"),
    ("富士山はどうして有名なのですか。", "富士山は日本でいちばん高い山で、形がとても美しいからです。昔から絵や歌にたくさん描かれ、世界遺産にもなっています。"),
    ("子どもに読んであげたい絵本を教えてください。", "「ぐりとぐら」や「はらぺこあおむし」はやさしい言葉で書かれていて、小さな子どもにも人気があります。"),
    ("仕事の集中力を上げる方法はありますか。", "作業を小さく分けて、二十五分ごとに短い休けいを取る方法がよく知られています。机の上をきれいにしておくことも役に立ちます。"),
    ("お正月にはどんなことをしますか。", "家族で集まっておせち料理やお雑煮を食べたり、神社へ初もうでに行ったりします。子どもはお年玉をもらいます。"),
    ("メールの最後に使える挨拶を教えてください。", "「よろしくお願いいたします」や「引き続きどうぞよろしくお願いいたします」がよく使われます。"),
    ("電車の中で気をつけるマナーは何ですか。", "電話で話さないこと、リュックを前に持つこと、お年寄りに席をゆずることなどが大切なマナーです。"),
    ("野菜を長く保存するにはどうすればいいですか。", "葉物は湿らせた紙に包んで冷蔵庫に入れ、じゃがいもや玉ねぎは風通しのよい暗い場所に置くと長持ちします。"),
    ("日本語を勉強するときのおすすめの方法は？", "毎日少しずつ声に出して読むこと、好きなアニメやドラマを字幕つきで見ること、日記を書くことがおすすめです。"),
    ("夏の暑さに負けないためのアドバイスをください。", "こまめに水を飲み、外に出るときは帽子をかぶりましょう。冷たいものばかり食べないように気をつけてください。"),
    ("自己紹介の例を書いてください。", "はじめまして、田中と申します。大阪から参りました。趣味は料理と写真をとることです。どうぞよろしくお願いします。"),
]

PUNCT_SWAPS = [("，", ","), ("。", "."), ("？", "?"), ("！", "!"), ("：", ":"), ("、", ","), (",", "，"), (".", "。")]


@dataclass
class Planted:
    table: pl.DataFrame  # unified records (ids computed), ready for the clean stages
    truth: pl.DataFrame  # key, group, kind, expect


def load_real(shared: Path, rel: str, fmt: str) -> pl.DataFrame:
    from curate.loaders import load_source
    from curate.recipe import Source

    return load_source(Source(name="audit", path=rel, format=fmt), shared).records


def real_chinese(shared: Path) -> pl.DataFrame:
    """The four Chinese slices, short enough, without records whose prompt repeats another's."""
    t = pl.concat([load_real(shared, rel, fmt) for rel, fmt in ZH_SOURCES.items()])
    t = t.with_columns(match_key_expr(text_expr("prompt")).alias("_pk"), text_expr("conversation").str.len_chars().alias("_n"))
    return t.filter((pl.len().over("_pk") == 1) & (pl.col("_pk") != "") & (pl.col("_n") <= MAX_CHARS)).drop("_n")


def cjk_pool(table: pl.DataFrame) -> list[str]:
    """Characters to substitute/insert: hanzi of the corpus itself, in a fixed order."""
    text = "".join(table.select(text_expr("conversation").alias("t"))["t"].head(300).to_list())
    return sorted(set(re.findall(r"[\u4e00-\u9fff]", text)))


def edit_text(text: str, rng: random.Random, pool: list[str], rate: float) -> str:
    """`rate` of the characters substituted, inserted or deleted (stochastic rounding, and at least
    one edit in a text of MIN_EDITED characters or more), then one punctuation or space change."""
    chars = list(text)
    k = int(rate * len(chars) + rng.random())
    if len(chars) >= MIN_EDITED:
        k = max(k, 1)
    for _ in range(min(k, max(len(chars) - 1, 0))):
        pos = rng.randrange(len(chars))
        op = rng.choice(("sub", "ins", "del"))
        fill = rng.choice(pool) if re.match(r"[\u4e00-\u9fff]", chars[pos]) else rng.choice("abcdefghijklmnopqrstuvwxyz")
        if op == "sub":
            chars[pos] = fill
        elif op == "ins":
            chars.insert(pos, fill)
        else:
            del chars[pos]
    out = "".join(chars)
    swaps = [s for s in PUNCT_SWAPS if s[0] in out]
    if swaps and rng.random() < 0.7:
        a, b = rng.choice(swaps)
        out = out.replace(a, b, 1)
    elif len(out) > 4:
        pos = rng.randrange(1, len(out))
        out = out[:pos] + " " + out[pos:]
    return out


def near_copy(messages: list[dict], rng: random.Random, pool: list[str]) -> list[dict]:
    """Every turn edited at one rate, drawn from 1-3 %."""
    rate = rng.uniform(0.01, 0.03)
    return [{"role": m["role"], "content": edit_text(m["content"], rng, pool, rate)} for m in messages]


def traditional_copy(messages: list[dict]) -> list[dict]:
    from curate.stages.convert import converter

    s2t = converter("s2t")
    return [{"role": m["role"], "content": s2t.convert(m["content"])} for m in messages]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def fullwidth_copy(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": fullwidth(m["content"])} for m in messages]


def ascii_count(messages: list[dict]) -> int:
    return sum(len(re.findall(r"[!-~]", m["content"])) for m in messages)


def real_template_families(table: pl.DataFrame) -> pl.DataFrame:
    """Real records whose prompts share a template prefix (>= TEMPLATE_PREFIX chars) yet differ."""
    prefix = text_expr("prompt").str.strip_chars().str.slice(0, TEMPLATE_PREFIX)
    t = table.with_columns(prefix.alias("_tpl"))
    return t.filter((pl.col("_tpl").str.len_chars() == TEMPLATE_PREFIX) & (pl.len().over("_tpl") >= 2)).drop("_tpl")


def synthetic_template_families(rows: list[dict], rng: random.Random, n_families: int) -> tuple[list[tuple], set]:
    """A long real instruction applied to 4 other real inputs, each with its own record's reply;
    also the (file, line) of every real record used, so it is not planted a second time."""
    with_input = [r for r in rows if "\n" in r["messages"][0]["content"]]  # alpaca: instruction \n input
    templates = [r for r in rows if len(r["messages"][0]["content"]) >= 25 and "\n" not in r["messages"][0]["content"]]
    rng.shuffle(templates)
    out, used = [], set()
    rng.shuffle(with_input)
    for f, tpl in enumerate(templates[:n_families]):
        used.add((tpl["meta"]["file"], tpl["meta"]["line"]))
        for j, r in enumerate(with_input[4 * f:4 * f + 4]):
            used.add((r["meta"]["file"], r["meta"]["line"]))
            given = r["messages"][0]["content"].split("\n", 1)[1]
            msgs = [{"role": "user", "content": tpl["messages"][0]["content"] + "\n" + given}, r["messages"][-1]]
            out.append((f"template_synthetic:{f}", {"file": f"planted/template{j}/{tpl['meta']['file']}", "line": tpl["meta"]["line"]}, msgs))
    return out, used


def build(shared: Path, seed: int = 0, scale: float = 1.0) -> Planted:
    """The planted corpus; `scale` shrinks or grows every kind (tests use the default)."""
    rng = random.Random(seed)
    sizes = {k: max(1, int(v * scale)) for k, v in SIZES.items()}
    real = real_chinese(shared)
    templates = real_template_families(real)
    in_template = set(zip(templates["meta"].struct.field("file").to_list(), templates["meta"].struct.field("line").to_list()))
    pool = cjk_pool(real)
    alpaca = [r for r in real.drop("_pk").to_dicts() if r["meta"]["file"] == "alpaca_style_demo/llamafactory_alpaca_zh_demo.json"
              and (r["meta"]["file"], r["meta"]["line"]) not in in_template]
    families, in_template_synthetic = synthetic_template_families(alpaca, rng, sizes["template_synthetic"])
    in_template |= in_template_synthetic
    rest = [r for r in real.drop("_pk").to_dicts() if (r["meta"]["file"], r["meta"]["line"]) not in in_template]
    rng.shuffle(rest)
    rows: list[dict] = []
    truth: list[dict] = []

    def add(meta: dict, msgs: list[dict], group: str, kind: str, expect: str, source: str = "audit") -> None:
        rows.append({"source": source, "type": "general", "messages": msgs, "meta": meta})
        truth.append({"key": f"{meta['file']}:{meta['line']}", "group": group, "kind": kind, "expect": expect})

    def original(r: dict, group: str, kind: str, expect: str = "one") -> None:
        add(r["meta"], r["messages"], group, kind, expect)

    def copy_group(r: dict, kind: str, folder: str, copy) -> None:
        """The record, its copy, and in half the groups a near copy of the record too."""
        g = f"{folder}:{r['meta']['file']}:{r['meta']['line']}"
        original(r, g, kind)
        add({**r["meta"], "file": f"planted/{folder}/" + r["meta"]["file"]}, copy(r["messages"]), g, kind, "one")
        if rng.random() < 0.5:
            add({**r["meta"], "file": f"planted/{kind}_near/" + r["meta"]["file"]}, near_copy(r["messages"], rng, pool), g, kind, "one")

    ascii_rich = [r for r in rest if ascii_count(r["messages"]) >= 8]
    fw, used = ascii_rich[:sizes["fullwidth_copy"]], {id(r) for r in ascii_rich[:sizes["fullwidth_copy"]]}
    others = iter(r for r in rest if id(r) not in used)
    for r in fw:
        copy_group(r, "fullwidth_copy", "fullwidth", fullwidth_copy)
    for _ in range(sizes["traditional_copy"]):
        copy_group(next(others), "traditional_copy", "traditional", traditional_copy)
    for _ in range(sizes["near_copy"]):
        r = next(others)
        g = f"near:{r['meta']['file']}:{r['meta']['line']}"
        original(r, g, "near_copy")
        for j in range(1 if rng.random() < 0.8 else 2):
            add({**r["meta"], "file": f"planted/near{j}/" + r["meta"]["file"]}, near_copy(r["messages"], rng, pool), g, "near_copy", "one")
    for _ in range(sizes["distinct"]):
        r = next(others)
        original(r, f"distinct:{r['meta']['file']}:{r['meta']['line']}", "distinct", "keep")
    for r in templates.drop("_pk").to_dicts():
        original(r, f"template:{r['meta']['file']}:{r['meta']['line']}", "template_negative", "keep")
    for group, meta, msgs in families:
        add(meta, msgs, f"{group}:{meta['file']}", "template_negative", "keep")
    english = load_real(shared, EN_SOURCE, "alpaca").to_dicts()
    for r in rng.sample(english, min(sizes["english"], len(english))):
        original(r, f"english:{r['meta']['line']}", "english", "reject")
    for i, (q, a) in enumerate(JAPANESE, start=1):
        add({"file": "planted/japanese", "line": i}, [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            f"japanese:{i}", "japanese", "reject")
    truth_df = pl.DataFrame(truth)
    assert truth_df["key"].is_unique().all(), "planted keys must be unique"
    return Planted(with_ids(records_frame(rows)), truth_df)
