"""normalize, convert, language and filter on hand-made edge cases (short texts, mixed scripts, code, emoji)."""

from __future__ import annotations

import polars as pl
import pytest

from curate.core.records import records_frame, with_ids
from curate.stages import StageContext
from curate.stages import convert, language, normalize, quality_filter


def table(*convos, rejected=None, lang=None):
    rows = []
    for i, turns in enumerate(convos):
        msgs = [{"role": "user" if j % 2 == 0 else "assistant", "content": t} for j, t in enumerate(turns)]
        rows.append({"id": "", "source": "s", "type": "general", "messages": msgs,
                     "rejected": (rejected or {}).get(i), "lang": lang, "meta": {"file": "f", "line": i + 1}})
    return with_ids(records_frame(rows))


def texts(t: pl.DataFrame) -> list[list[str]]:
    return [[m["content"] for m in msgs] for msgs in t["messages"].to_list()]


def run(stage, t, **opts):
    out = stage.apply(t, stage.Options(**opts), StageContext())
    assert out.kept.height + out.rejected.height == t.height, "a stage lost or invented records"
    return out


def test_normalize_keeps_chinese_punctuation_and_cleans_the_rest():
    t = table(["ＡＢＣ１２３，你好\u00a0\u00a0世界\u200b！", "第一行\r\n\r\n\r\n\r\n第二行\x07  \t 结束"])
    out = run(normalize, t)
    assert texts(out.kept) == [["ABC123，你好 世界！", "第一行\n\n第二行 结束"]]
    assert out.rejected.height == 0 and out.stats["records_changed"] == 1
    assert out.kept["id"][0] != t["id"][0]  # ids follow content


def test_convert_counts_traditional_and_converts_per_source():
    t = table(["這是繁體中文嗎？", "是的，這裡都是繁體字。"], ["这是简体。", "没错。"], rejected={1: "錯誤的回答"})
    out = run(convert, t)
    assert texts(out.kept) == [["这是繁体中文吗？", "是的，这里都是繁体字。"], ["这是简体。", "没错。"]]
    assert out.kept["rejected"].to_list() == [None, "错误的回答"]
    assert out.stats["traditional_records_before"] == 2 and out.stats["traditional_records_after"] == 0
    assert out.stats["turns_converted"] == 3
    off = run(convert, t, config="t2s", per_source={"s": "off"})
    assert texts(off.kept) == texts(t)
    taiwan = run(convert, table(["我用滑鼠寫程式", "好"]), config="tw2sp")
    assert texts(taiwan.kept)[0][0] == "我用鼠标写程序"


def test_language_keeps_chinese_short_turns_code_and_translation_tasks():
    t = table(
        ["你好", "你好！有什么可以帮你？"],                                  # very short Chinese turn
        ["写一个Python函数求和", "```python\ndef add(a, b):\n    return a + b\n```\n这个函数返回两数之和。"],  # code
        ["把这句话翻译成英文：今天天气很好。", "The weather is very nice today."],  # zh task with English answer
        ["What is the capital of France?", "The capital of France is Paris."],    # English
        ["東京は日本の首都ですか？", "はい、東京は日本の首都です。"],                  # Japanese
        ["OK", "👍"],                                                       # nothing to judge
        ["感冒了应该注意什么？", "多喝水，注意休息，饮食清淡；如果高烧不退，要及时就医。"],
    )
    out = run(language, t)
    kept_first = [m[0] for m in texts(out.kept)]
    assert kept_first == ["你好", "写一个Python函数求和", "把这句话翻译成英文：今天天气很好。", "OK", "感冒了应该注意什么？"]
    assert sorted(out.rejected["detail"].str.split(" ").list.first().to_list()) == ["en", "ja"]
    assert out.kept.filter(pl.col("lang").is_null()).height == 1  # OK/👍 is undetermined, not foreign
    assert out.kept.filter(pl.col("lang") == "zh")["lang_score"].min() > 0.5


def test_language_tag_only_and_record_mode():
    t = table(["What is 2+2?", "4"], ["二加二等于几？", "等于四。"])
    tagged = run(language, t, tag_only=True)
    assert tagged.rejected.height == 0 and tagged.kept["lang"].to_list() == ["en", "zh"]
    several = run(language, t, keep=["zh", "en"], mode="record")
    assert several.kept.height == 2
    strict = run(language, table(["请把下面的句子翻译成日语：こんにちは", "你好"]), min_score=0.9)  # kana material: zh < 0.9
    assert strict.rejected["reason"].to_list() == ["low_lang_score"]


def test_filter_rules_name_the_reason():
    t = table(
        ["介绍一下长城。", "长城是中国古代的军事防御工程，绵延上万里。"],         # fine
        ["你好", "你好！", "再见"],                                            # ends on the user
        ["写点什么", "   "],                                                 # empty reply
        ["你是谁？", "作为一个AI语言模型，我没有名字。"],                         # AI self-reference
        ["你是谁开发的？", "我是由OpenAI训练的模型。"],                           # vendor mention
        ["重复", "哈哈哈哈哈哈哈哈哈哈" * 20],                                   # repetition
        ["打印", "第一行\\n第二行\\n第三行"],                                    # literal escapes
        ["列出三点", "第一，早睡；第二，"],                                        # truncated
        ["What is this?", "This is an English answer with no Chinese at all."],  # low CJK share
        ["比较", "两者相同"],                                                   # chosen == rejected
        rejected={9: "两者相同"})
    out = run(quality_filter, t)
    reasons = dict(zip(out.rejected["meta"].struct.field("line").to_list(), out.rejected["reason"].to_list()))
    assert reasons == {2: "ends_with_user", 3: "empty_reply", 4: "ai_self_reference", 5: "vendor_mention", 6: "char_repetition",
                       7: "literal_escapes", 8: "truncated_reply", 9: "low_cjk_share", 10: "identical_pair"}
    assert out.kept["meta"].struct.field("line").to_list() == [1]
    assert out.rejected.filter(pl.col("reason") == "vendor_mention")["detail"].to_list() == ["我是由OpenAI"]


def test_filter_rules_can_be_turned_off_and_extended(tmp_path):
    t = table(["你是谁开发的？", "我是由OpenAI训练的模型。"], ["问", "答：今天天气不错，我们去公园吧。"])
    off = quality_filter.apply(t, quality_filter.Options(disable_sections=["vendor_mention"]), StageContext())
    assert off.rejected.height == 0
    (tmp_path / "mine.txt").write_text("[weather]\n天气不错\n", encoding="utf-8")
    mine = quality_filter.apply(t, quality_filter.Options(patterns_file="mine.txt", disable_sections=["vendor_mention"]),
                                StageContext(base_dir=tmp_path))
    assert mine.rejected["reason"].to_list() == ["weather"]


def test_code_escapes_inside_code_blocks_are_fine():
    t = table(["C 语言怎么换行？", "用转义字符：\n```c\nprintf(\"a\\n\");\nprintf(\"b\\n\");\n```\n这样就会输出两行。"])
    assert run(quality_filter, t).rejected.height == 0


@pytest.mark.parametrize("stage", [normalize, convert, language, quality_filter])
def test_stages_handle_an_empty_table(stage):
    out = run(stage, table())
    assert out.kept.height == 0 and out.rejected.height == 0


def test_language_plain_chinese_shortcut_gives_the_python_pass_labels(monkeypatch):
    t = table(*[[f"第{i}个问题是什么？", "答案很简单。" if i % 3 else "The answer is simple."] for i in range(9)],
              ["OK", "👍"], ["写个函数 `f()`", "```\ndef f(): pass\n```"])
    shortcut = run(language, t)
    monkeypatch.setattr(language, "plain_han_expr", lambda texts: pl.lit(False))  # every record through Judge
    python_pass = run(language, t)
    assert shortcut.kept.equals(python_pass.kept) and shortcut.rejected.equals(python_pass.rejected)
    assert shortcut.kept["lang"].to_list()[:9] == ["zh"] * 9 and shortcut.kept["lang"][9] is None  # nothing to judge


def test_convert_to_traditional_counts_what_it_adds():
    out = run(convert, table(["这是简体。", "好的。"]), config="s2t")
    assert texts(out.kept)[0][0] == "這是簡體。"
    assert out.stats["traditional_records_before"] == 0 and out.stats["traditional_records_after"] == 1
