"""The script decision, the prose-aware cjk share and the vendor self-identification patterns, on planted strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curate.stages import language, quality_filter
from curate.text import cjk_share, prose, script_of


def judge():
    return language.Judge(language.Options(), None)


@pytest.mark.parametrize("text, label", [
    ("将以下句子翻译成中文：The quick brown fox jumps over the lazy dog.", "zh"),   # issue 18: was ja 0.77
    ("请生成一组英文单词的同义词，至少包含三个不同难度等级的同义词组合。\n单词：美丽", "zh"),  # was ja 0.51
    ("生成化学元素列表", "zh"),
    ("用Python的pandas库读取一个CSV文件，并画出柱状图", "zh"),                     # Latin terms inside Chinese
    ("东京は日本の首都ですか？", "ja"),                                              # kana
    ("안녕하세요, 만나서 반갑습니다", "ko"),                                         # hangul
    ("What is the capital of France?", "en"),                                       # fastText
    ("Привет, как у тебя дела сегодня?", "ru"),
])
def test_script_decides_and_fasttext_reads_the_rest(text, label):
    assert judge().turn(text)[0] == label


def test_script_scores_say_how_pure_the_script_is():
    assert judge().turn("将以下句子翻译成中文：The quick brown fox")[1] == 1.0  # foreign material does not lower it
    label, score, _ = judge().turn("翻译成日语：こんにちは")
    assert label == "zh" and 0.5 < score < 1.0
    assert judge().turn("OK")[0] is None  # too little language to judge


def test_record_label_follows_the_user_not_the_translation():
    j = judge()
    assert j.record(["把这段话翻译成英文：我今天很高兴，因为天气很好。"], ["I am very happy today because the weather is nice."])[0] == "zh"
    assert j.record(["Summarize this article for me please, in two sentences."], ["这篇文章讲的是天气。"])[0] == "en"
    assert j.record(["继续"[:1]], ["好的，下面是第二部分的内容。"]) == ("zh", 1.0)  # the user says too little: the reply decides


def test_script_of_counts_weight_and_hanzi():
    assert script_of("写一个函数") == ("zh", 15, 5)
    assert script_of("hello world")[0] is None
    assert script_of("12345 ,.!") == (None, 0, 0)


def test_prose_drops_code_urls_and_unfenced_code_lines():
    text = "看这里 https://example.com/x\n```python\nprint('hi')\n```\n用 `len()` 计数\nint main() {\nreturn 0;\n}"
    assert prose(text).split() == ["看这里", "用", "计数"]


def msgs(user, reply):
    return [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]


def test_cjk_share_ignores_code_terms_glosses_names_and_translation_targets():
    code = msgs("用C#写一个冒泡排序", "下面是代码：\n```csharp\nfor (int i = 0; i < n; i++) { Swap(a, i); }\n```\n它的复杂度是O(n²)。")
    assert cjk_share(code) == 1.0
    elements = msgs("生成化学元素列表。", "1. 氢（Hydrogen, H）\n2. 氦（Helium, He）\n3. 锂（Lithium, Li）")
    assert cjk_share(elements) == 1.0
    bands = msgs("列出一些韩国流行乐队。", "BTS、Blackpink、EXO、Twice、Red Velvet")
    assert cjk_share(bands) == 1.0
    translation = msgs("把这句话翻译成英文：我今天很高兴。", "I am very happy today, because the weather is really nice.")
    assert cjk_share(translation) == 1.0
    english_answer = msgs("安排明天上午10点的会议。", "Certainly, I will schedule a meeting for you tomorrow at 10 AM.")
    assert cjk_share(english_answer) < 0.3  # a Chinese question answered in English prose still fails


def vendor_regex() -> str:
    return quality_filter.pattern_sections(quality_filter.Options(), Path("."))["vendor_mention"]


@pytest.mark.parametrize("reply, rejected", [
    ("我是由OpenAI训练的大型语言模型，无法浏览网页。", True),
    ("作为由OpenAI训练的大型语言模型，我的知识截止于2021年。", True),
    ("是的，我是 ChatGPT。", True),
    ("As an AI language model developed by OpenAI, I cannot browse the web.", True),
    ("I'm ChatGPT, a large language model.", True),
    ("ChatGPT和其他语言模型有令牌限制，因为这些模型是使用大量文本训练的。", False),  # about ChatGPT, issue 18
    ("作为一个由OpenAI训练的大型语言模型，ChatGPT旨在产生高质量的文本。", False),     # third person
    ("GPT-3 是一个由 OpenAI 开发的自然语言处理模型。", False),
    ("OpenAI是一个研究机构，专注于开发安全的人工智能。", False),
])
def test_vendor_mention_is_self_identification_only(reply, rejected):
    assert bool(re.search(vendor_regex(), prose(reply))) is rejected


def test_vendor_names_in_code_are_not_claims():
    reply = "下面的代码调用接口：\n```python\nimport openai\nopenai.ChatCompletion.create(model='gpt-4')\n```"
    assert not re.search(vendor_regex(), prose(reply))
