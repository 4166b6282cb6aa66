"""dedup stage: normalisation edge cases, twin rule, near-dup precision/recall, determinism, options."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

import curate.minhash as mh
from curate.core.records import records_frame, with_ids
from curate.stages import StageContext, dedup

WORDS = ("我们 今天 学习 历史 文化 城市 北京 上海 经济 发展 科技 创新 人工 智能 数据 分析 健康 饮食 运动 睡眠 "
         "旅行 计划 预算 学生 老师 考试 复习 方法 环境 保护 能源 汽车 手机 电脑 软件 程序 设计 音乐 电影 小说 "
         "诗歌 写作 翻译 英语 数学 物理 化学 生物 地理 政治 法律 公司 管理 市场 营销 产品 用户 服务 质量 时间 "
         "效率 团队 合作 沟通 问题 解决 建议 总结 介绍 解释 比较 描述 列出 说明 为什么 如何 什么 哪些 请 一下 详细").split()


def rec(source: str, prompt: str, line: int, reply: str = "好的。", turns: list[str] | None = None) -> dict:
    msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    for t in turns or []:
        msgs += [{"role": "user", "content": t}, {"role": "assistant", "content": reply}]
    return {"source": source, "type": "general", "messages": msgs, "meta": {"file": f"{source}.json", "line": line}}


def table(rows: list[dict]) -> pl.DataFrame:
    return with_ids(records_frame(rows))


def run(rows, order=("a", "b"), **opts):
    return dedup.apply(table(rows), dedup.Options(**opts), StageContext(source_order=list(order)))


def kept_prompts(res) -> list[str]:
    return [m[0]["content"] for m in res.kept["messages"].to_list()]


def sentence(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) for _ in range(n)) + rng.choice("。？！")


# ---- exact ---------------------------------------------------------------------------------------

def test_exact_ignores_case_spaces_and_punctuation_but_not_words():
    rows = [rec("a", "Hello, World!", 1), rec("a", "hello world", 2), rec("a", "请介绍一下北京。", 3),
            rec("a", "请 介绍一下 北京", 4), rec("a", "请介绍一下北京！！", 5), rec("a", "请介绍一下上海", 6),
            rec("a", "「请」介绍一下北京？", 7)]
    res = run(rows, method="exact")
    assert kept_prompts(res) == ["Hello, World!", "请介绍一下北京。", "请介绍一下上海"]
    assert res.rejected.height == 4 and set(res.rejected["reason"]) == {"duplicate"}
    assert res.stats["clusters"] == 2 and res.stats["largest_cluster"] == 4 and res.stats["cluster_sizes"] == {"2": 1, "4": 1}


def test_exact_edge_cases_punctuation_only_emoji_code_mixed_scripts():
    rows = [rec("a", "？？？", 1), rec("a", "!!!", 2), rec("a", "😀", 3), rec("a", "😂", 4), rec("a", "😀", 5),
            rec("a", "print(a+b)", 6), rec("a", "print(a*b)", 7), rec("a", "用Python写 hello world", 8),
            rec("a", "用python写hello，world", 9), rec("a", "", 10), rec("a", "", 11)]
    res = run(rows, method="exact")
    assert kept_prompts(res) == ["？？？", "!!!", "😀", "😂", "print(a+b)", "print(a*b)", "用Python写 hello world", ""]
    assert sorted(res.rejected["meta"].struct.field("line").to_list()) == [5, 9, 11]


def test_twin_rule_source_priority_then_first_seen():
    rows = [rec("b", "写一首关于春天的诗", 1), rec("a", "写一首关于春天的诗。", 1), rec("a", "写一首关于春天的诗！", 2),
            rec("b", "解释量子纠缠", 2), rec("b", "解释量子纠缠。", 3)]
    t = table(rows)
    res = dedup.apply(t, dedup.Options(method="exact"), StageContext(source_order=["a", "b"]))
    ids = dict(zip(t["meta"].struct.field("line").cast(str) + t["source"], t["id"]))
    assert res.kept.select("source", pl.col("meta").struct.field("line")).rows() == [("a", 1), ("b", 2)]
    twins = dict(zip(res.rejected["source"] + res.rejected["meta"].struct.field("line").cast(str), res.rejected["twin_id"]))
    assert twins == {"b1": ids["1a"], "a2": ids["1a"], "b3": ids["2b"]}
    assert res.stats["cross_source"] == 1
    assert res.rejected.filter(pl.col("source") == "b")["detail"].to_list() == ["same prompt as a.json:1", "same prompt as b.json:2"]
    # reversed priority: b's record wins
    res = dedup.apply(t, dedup.Options(method="exact"), StageContext(source_order=["b", "a"]))
    assert res.kept.select("source", pl.col("meta").struct.field("line")).rows() == [("b", 1), ("b", 2)]


def test_scope_instruction_versus_prompt_versus_conversation():
    rows = [rec("a", "你好", 1, reply="你好！"), rec("a", "你好", 2, reply="您好，有什么可以帮您？"),
            rec("a", "你好", 3, reply="你好！", turns=["讲个笑话"])]
    assert len(kept_prompts(run(rows, method="exact", scope="instruction"))) == 1
    assert len(kept_prompts(run(rows, method="exact", scope="prompt"))) == 2
    assert len(kept_prompts(run(rows, method="exact", scope="conversation"))) == 3


# ---- near ----------------------------------------------------------------------------------------

def test_near_short_texts_are_not_called_duplicates():
    rows = [rec("a", "你好", 1), rec("a", "您好", 2), rec("a", "早", 3), rec("a", "晚", 4), rec("a", "ok", 5),
            rec("a", "ko", 6), rec("a", "", 7), rec("a", "。", 8), rec("a", "写诗", 9), rec("a", "写诗！", 10)]
    res = run(rows, method="minhash", scope="prompt")
    assert [r for r in res.rejected["meta"].struct.field("line")] == [10]  # only the identical pair
    assert res.stats["records_without_shingles"] == 2


def test_near_finds_light_edits_and_keeps_twin_by_priority():
    base = "请详细介绍一下北京这座城市的悠久历史和丰富多彩的传统文化，并给出三个值得参观的地方。"
    edit = base.replace("丰富多彩", "丰富多样")
    rows = [rec("b", base, 1), rec("a", edit, 1), rec("a", "请详细介绍一下上海这座城市的现代经济发展。", 2)]
    res = run(rows, method="minhash", threshold=0.7)
    assert res.kept.select("source", pl.col("meta").struct.field("line")).rows() == [("a", 1), ("a", 2)]
    assert res.rejected["reason"].to_list() == ["near_duplicate"]
    assert res.rejected["twin_id"].to_list() == [table(rows)["id"][1]]
    assert res.rejected["detail"][0].startswith("jaccard 0.") and res.rejected["detail"][0].endswith("kept a.json:1")


def true_jaccard(a: str, b: str, n: int = 5) -> float:
    def grams(s):
        s = "".join(ch for ch in s.lower() if ch.isalnum())
        return {s[i:i + n] for i in range(max(1, len(s) - n + 1))}
    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def planted_corpus(seed: int = 7, n_base: int = 2500, n_dups: int = 500, n_hard: int = 300):
    """Distinct random sentences (source a), lightly edited copies with true 5-gram Jaccard >= 0.85
    (source b: duplicates), and heavier edits with Jaccard 0.45-0.75 (source c: not duplicates)."""
    rng = random.Random(seed)
    base = list(dict.fromkeys(sentence(rng, rng.randint(12, 30)) for _ in range(n_base)))

    def edited(i: int, k: int) -> str:
        s = list(base[i])
        for pos in rng.sample(range(len(s) - 1), k):
            s[pos] = rng.choice("的了是在和有")
        return "".join(s)

    planted: list[str] = []
    while len(planted) < n_dups:
        i = rng.randrange(len(base))
        copy = edited(i, 1) if rng.random() < 0.8 else base[i][:-1] + "？"  # a character, or the punctuation
        if copy != base[i] and true_jaccard(copy, base[i]) >= 0.85:
            planted.append(copy)
    hard: list[str] = []
    while len(hard) < n_hard:
        i = rng.randrange(len(base))
        copy = edited(i, rng.randint(2, 4))
        if 0.45 <= true_jaccard(copy, base[i]) <= 0.75:
            hard.append(copy)
    rows = [rec("a", t, k) for k, t in enumerate(base)]
    rows += [rec("b", t, k) for k, t in enumerate(planted)]
    rows += [rec("c", t, k) for k, t in enumerate(hard)]
    return rows, len(base)


def test_near_precision_and_recall_on_planted_duplicates():
    rows, n_base = planted_corpus()
    opts = dedup.Options(method="minhash", scope="prompt", ngram=5, threshold=0.8)  # the 5-gram truth of planted_corpus
    res = dedup.apply(table(rows), opts, StageContext(source_order=["a", "b", "c"]))
    by_source = dict(res.rejected.group_by("source").len().iter_rows())
    true_pos = by_source.get("b", 0)
    # a hard negative may still be >= 0.8 similar to another planted copy: count only real mistakes
    texts = {r["meta"]["line"]: r["messages"][0]["content"] for r in rows if r["source"] == "c"}
    kept = kept_prompts(res)
    false_pos = sum(1 for line in res.rejected.filter(pl.col("source") == "c")["meta"].struct.field("line")
                    if max(true_jaccard(texts[line], k) for k in kept) < 0.8)
    precision = true_pos / max(1, true_pos + false_pos)
    recall = true_pos / 500
    assert precision >= 0.95 and recall >= 0.98, (precision, recall)
    assert res.stats["candidates_rejected_by_jaccard"] > 0  # near misses were candidates and were checked


def test_minhash_estimates_jaccard():
    """The xor-multiply permutations behave like MinHash: estimate close to the true Jaccard."""
    rng = random.Random(3)
    pairs = []
    for _ in range(200):
        s = sentence(rng, 25)
        t = "".join(c if rng.random() > 0.08 else "的" for c in s)
        pairs.append((s, t))
    texts = [x for p in pairs for x in p]
    flat, lengths = mh.codepoints(texts)
    hashes, counts = mh.ngram_hashes(flat, lengths, 5)
    sig = mh.signatures(hashes, counts, 256)
    est = (sig[:, 0::2] == sig[:, 1::2]).mean(axis=0)
    sets = mh.shingle_sets(texts, 5)
    true = np.array([mh.jaccard(sets[2 * i], sets[2 * i + 1]) for i in range(len(pairs))])
    assert np.abs(est - true).mean() < 0.03
    assert abs(float(np.mean(est - true))) < 0.01  # unbiased


def test_ngram_hashes_short_texts_and_boundaries():
    flat, lengths = mh.codepoints(["abcdef", "ab", "", "abc", "cdefg"])
    hashes, counts = mh.ngram_hashes(flat, lengths, 3)
    assert counts.tolist() == [4, 1, 0, 1, 3]
    h = np.split(hashes, np.cumsum(counts)[:-1])
    assert h[0][0] == h[3][0]  # "abc" inside "abcdef" == the whole text "abc"
    assert h[1][0] not in set(h[0].tolist())  # "ab" (short) is not an n-gram of "abcdef"
    assert h[0][2] == h[4][0]  # "cde": same n-gram in another text
    alone, _ = mh.ngram_hashes(*mh.codepoints(["abcdef"]), 3)
    assert alone.tolist() == h[0].tolist()  # a short text elsewhere in the batch changes nothing


@pytest.mark.parametrize("n", [1, 2, 5, 13])
def test_ngram_hashes_equal_exactly_when_ngrams_are_equal(n):
    rng = random.Random(n)
    texts = ["".join(rng.choice("的了是在和有天地人😀a") for _ in range(rng.randint(0, 40))) for _ in range(300)]
    hashes, counts = mh.ngram_hashes(*mh.codepoints(texts), n)
    seen: dict[str, int] = {}
    at = 0
    for t, c in zip(texts, counts.tolist()):
        grams = [t[i:i + n] for i in range(len(t) - n + 1)] if len(t) >= n else ([t] if t else [])
        assert len(grams) == c
        for g, h in zip(grams, hashes[at:at + c].tolist()):
            assert seen.setdefault(g, h) == h
        at += c
    assert len(set(seen.values())) == len(seen)  # distinct n-grams, distinct hashes


@pytest.mark.parametrize("size", [0, 1, 1000, 300_000])
def test_hashset_membership(size):
    rng = np.random.default_rng(size)
    members = rng.integers(0, mh.U64_MAX, size=size, dtype=np.uint64, endpoint=True)
    others = rng.integers(0, mh.U64_MAX, size=50_000, dtype=np.uint64, endpoint=True)
    probe = np.concatenate([members[:5000], others])
    expected = np.isin(probe, members)
    assert (mh.HashSet(members).contains(probe) == expected).all()


def test_lsh_params_match_datasketch():
    from datasketch.lsh import _optimal_param

    for t in (0.5, 0.7, 0.8, 0.9):
        for n in (64, 128, 256):
            assert mh.lsh_params(t, n, (0.5, 0.5)) == _optimal_param(t, n, 0.5, 0.5)
            assert mh.lsh_params(t, n) == _optimal_param(t, n, 0.05, 0.95)
    assert mh.lsh_params(0.8, 128) == (16, 8)


def test_components_chain_and_star():
    labels = mh.components(7, np.array([[5, 6], [1, 2], [2, 3], [3, 6]]))
    assert labels.tolist() == [0, 1, 1, 1, 4, 1, 1]


def test_jieba_tokenizer_finds_word_level_duplicates():
    rows = [rec("a", "我们今天学习历史文化，然后讨论城市经济发展的问题和解决方法", 1),
            rec("a", "我们今天学习历史文化，然后讨论城市经济发展的问题以及解决方法", 2),
            rec("a", "老师介绍健康饮食与运动睡眠的重要性", 3)]
    res = run(rows, method="minhash", tokenizer="jieba", threshold=0.6)
    assert res.rejected["meta"].struct.field("line").to_list() == [2]
    assert dedup.Options(method="minhash", tokenizer="jieba").ngram == 2


def test_deterministic_across_runs_threads_and_blocks(monkeypatch):
    rows, _ = planted_corpus(seed=11, n_base=1200, n_dups=300)
    first = run(rows, method="minhash")
    monkeypatch.setattr(mh, "BLOCK", 128)  # many blocks on a thread pool
    monkeypatch.setenv("ZHTUNE_THREADS", "2")
    second = run(rows, method="minhash")
    monkeypatch.setenv("ZHTUNE_THREADS", "1")
    third = run(rows, method="minhash")
    for other in (second, third):
        assert other.kept["id"].to_list() == first.kept["id"].to_list()
        assert other.rejected.select("id", "twin_id", "detail").rows() == first.rejected.select("id", "twin_id", "detail").rows()
        assert other.stats == first.stats


# ---- options -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [{"method": "minhash", "threshold": 0}, {"method": "minhash", "threshold": 1.5},
                                 {"method": "fuzzy"}, {"method": "exact", "threshold": 0.8}, {"method": "minhash", "ngram": 0},
                                 {"method": "minhash", "tokenizer": "bpe"}, {"method": "exact", "thresold": 0.8}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValidationError):
        dedup.Options(**bad)


def test_defaults():
    o = dedup.Options()
    assert (o.method, o.scope) == ("exact", "prompt")
    o = dedup.Options(method="minhash")
    assert (o.scope, o.threshold, o.ngram, o.num_perm, o.tokenizer) == ("conversation", 0.7, 3, 128, "char")
    assert dedup.Options(method="minhash", scope="prompt").scope == "prompt"
    assert dedup.Options.model_validate(o.model_dump(mode="json")) == o


def test_datasketch_engine_agrees_with_the_numpy_engine():
    """datasketch's own MinHash + MinHashLSH (the reference) finds the same planted duplicates."""
    rows, _ = planted_corpus(seed=11, n_base=600, n_dups=120, n_hard=60)
    ctx = StageContext(source_order=["a", "b", "c"])
    fast = dedup.apply(table(rows), dedup.Options(method="minhash"), ctx)
    reference = dedup.apply(table(rows), dedup.Options(method="minhash", engine="datasketch"), ctx)
    fast_ids, ref_ids = set(fast.rejected["id"]), set(reference.rejected["id"])
    assert reference.rejected.filter(pl.col("source") == "b").height >= 0.98 * 120
    assert len(fast_ids & ref_ids) >= 0.97 * max(len(fast_ids), len(ref_ids))


def test_resolved_options_load_back():
    """The manifest's recipe lists every option with its default; it must validate again."""
    for opts in (dedup.Options(method="exact"), dedup.Options(method="minhash", threshold=0.7)):
        assert dedup.Options.model_validate(opts.model_dump(mode="json")) == opts
    assert "threshold" not in dedup.Options(method="exact").model_dump()
    with pytest.raises(ValueError, match="only apply to `method: minhash`"):
        dedup.Options(method="exact", threshold=0.5)


def test_each_method_has_its_own_model_and_defaults():
    """`method` picks the model: exact takes only method and scope; each has its own scope default."""
    exact, near = dedup.Options(), dedup.Options(method="minhash")
    assert type(exact).__name__ == "ExactOptions" and set(type(exact).model_fields) == {"method", "scope"}
    assert type(near).__name__ == "MinhashOptions" and near.scope == "conversation" and exact.scope == "prompt"
    assert dedup.Options.model_validate({"method": "minhash", "ngram": 4}) == dedup.Options(method="minhash", ngram=4)


@pytest.mark.parametrize("raw, message", [
    ({"method": "minhash", "threshold": 2}, "clean[3].dedup.threshold: Input should be less than or equal to 1"),
    ({"threshold": 0.8}, "clean[3].dedup: `threshold` only apply to `method: minhash` (this one has `method: exact`"),
    ({"method": "exact", "scpoe": "prompt"}, "did you mean `scope`? (known: method, scope)"),
    ({"method": "minhash", "thresold": 0.8}, "did you mean `threshold`?"),
    ({"method": "fuzzy"}, "clean[3].dedup: Input tag 'fuzzy' found using 'method' does not match"),
])
def test_recipe_errors_name_the_key_path(raw, message):
    from curate.core.errors import UserError
    from curate.recipe import parse_stage_entry

    with pytest.raises(UserError) as e:
        parse_stage_entry({"dedup": raw}, 3)
    assert message in str(e.value)
