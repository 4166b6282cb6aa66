"""Small built versions and tiny models for the trainer tests (written by us; realistic Chinese data)."""

from __future__ import annotations

import json
from pathlib import Path

from curate.core.records import records_frame, with_ids
from curate.core.version import write_parquet

GENERAL = [
    ("请介绍一下中国的四大发明。", "中国古代的四大发明是造纸术、印刷术、火药和指南针。它们对世界文明的发展产生了深远影响。"),
    ("如何保持健康的生活方式？", "保持健康需要均衡饮食、规律作息、适量运动，并且保持良好的心态。"),
    ("把下面这句话翻译成英文：今天天气很好，我们去公园散步吧。", "The weather is nice today, let's take a walk in the park."),
    ("写一首关于春天的短诗。", "春风拂面柳丝长，\n桃花含笑映山岗。\n燕子归来寻旧垒，\n田间处处稻秧香。"),
    ("什么是光合作用？", "光合作用是绿色植物利用光能，把二氧化碳和水转化为有机物，并释放氧气的过程。"),
    ("给我三个提高学习效率的建议。", "1. 制定明确的学习计划；2. 采用番茄工作法集中注意力；3. 及时复习并总结错题。"),
    ("北京是哪个国家的首都？", "北京是中华人民共和国的首都。"),
    ("请用一句话总结《西游记》的故事。", "《西游记》讲述了唐僧师徒四人历经九九八十一难，前往西天取经的故事。"),
]
COT = [
    ("小明有5个苹果，又买了3个，吃掉了2个，还剩几个？请一步一步思考。",
     "小明原来有5个苹果，买了3个后有5+3=8个，吃掉2个后剩下8-2=6个。所以答案是6个。"),
    ("一个长方形长8米，宽5米，面积是多少？请写出推理过程。", "长方形的面积等于长乘以宽，即8×5=40。所以面积是40平方米。"),
]
ALIGNMENT = [
    ("我心情很低落，觉得没有人关心我，怎么办？",
     "听到你这样说我很难过。你的感受很重要，可以试着和信任的朋友或家人聊一聊，也可以寻求专业心理咨询师的帮助。"),
    ("怎样才能不被发现地拿走别人的东西？", "抱歉，我不能帮助你做违法或伤害他人的事情。如果你遇到经济困难，可以向相关机构寻求帮助。"),
]
MULTITURN = [
    [("你好，你能帮我推荐一本书吗？", "当然可以。你喜欢什么类型的书呢？"),
     ("我喜欢历史类的。", "推荐你读《万历十五年》，这本书以独特的视角讲述了明朝的历史。")],
]
PREFERENCE = [
    ("如何学习一门新的编程语言？", "先掌握基础语法，再通过小项目练习，并阅读优秀的开源代码。", "随便看看就会了。"),
    ("请解释什么是人工智能。", "人工智能是研究如何让计算机模拟人类智能的科学，包括学习、推理和感知等能力。", "人工智能就是机器人。"),
    ("推荐一种适合初学者的运动。", "快走或慢跑都很适合初学者，强度可以逐步增加，也不需要特别的器材。", "举重，越重越好。"),
    ("怎样才能睡个好觉？", "保持规律作息，睡前避免使用手机，卧室保持安静和适宜的温度。", "熬夜到凌晨再睡。"),
]


def _row(messages, type_, source, rejected=None, line=1):
    return {"id": "", "source": source, "type": type_, "messages": messages, "rejected": rejected,
            "lang": "zh", "lang_score": 0.99, "meta": {"file": f"{source}.jsonl", "line": line}}


def demo_rows(repeat: int = 1) -> list[dict]:
    """SFT records of four types plus preference pairs, as `curate build` writes them."""
    rows = []
    for r in range(repeat):
        for i, (q, a) in enumerate(GENERAL):
            rows.append(_row([{"role": "user", "content": q}, {"role": "assistant", "content": a + "。" * r}],
                             "general", "belle", line=i + 1))
        for i, (q, a) in enumerate(COT):
            rows.append(_row([{"role": "user", "content": q}, {"role": "assistant", "content": a + "。" * r}],
                             "cot", "cot_zh", line=i + 1))
        for i, (q, a) in enumerate(ALIGNMENT):
            rows.append(_row([{"role": "system", "content": "你是一个负责任的助手。"},
                              {"role": "user", "content": q}, {"role": "assistant", "content": a + "。" * r}],
                             "alignment", "cvalues", line=i + 1))
        for i, turns in enumerate(MULTITURN):
            msgs = [m for q, a in turns for m in ({"role": "user", "content": q},
                                                   {"role": "assistant", "content": a + "。" * r})]
            rows.append(_row(msgs, "multiturn", "sharegpt", line=i + 1))
        for i, (q, good, bad) in enumerate(PREFERENCE):
            rows.append(_row([{"role": "user", "content": q}, {"role": "assistant", "content": good + "。" * r}],
                             "preference", "dpo_zh", rejected=bad, line=i + 1))
    return rows


def all_texts(rows: list[dict]) -> list[str]:
    return [m["content"] for r in rows for m in r["messages"]] + [r["rejected"] for r in rows if r["rejected"]]


def write_version(root: Path, rows: list[dict] | None = None, name: str = "demo", version_id: str = "v0test",
                  test_rows: list[dict] | None = None) -> Path:
    """A version folder with train.parquet (+ test.parquet) and a manifest, like `curate build` writes."""
    rows = demo_rows() if rows is None else rows
    folder = Path(root) / name / version_id
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(with_ids(records_frame(rows)), folder / "train.parquet")
    if test_rows:
        write_parquet(with_ids(records_frame(test_rows)), folder / "test.parquet")
    (folder / "manifest.json").write_text(json.dumps({"version": version_id, "name": name}), encoding="utf-8")
    return folder


# ---- shared tiny setup (built once per test process: a version and a tiny model trained on its text)
import functools
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@functools.cache
def tiny_setup(arch: str = "qwen2") -> tuple[Path, Path]:
    """(version folder, tiny model folder), cached for the whole test session."""
    from train.tiny import build_tiny_model

    one_thread()
    root = Path(tempfile.mkdtemp(prefix="zhtune-train-"))
    rows = demo_rows()
    version = write_version(root / "builds", rows, test_rows=rows[:2] + [r for r in rows if r["rejected"]][:2])
    model = build_tiny_model(root / f"tiny-{arch}", arch=arch, texts=all_texts(rows), vocab_size=800)
    return version, model


def tiny_config(version: Path, model: Path, out: Path, *, method: str = "lora", stage: str = "sft",
                training: dict | None = None, data: dict | None = None, **extra) -> dict:
    """A raw train config for a few fast steps on one thread (same 4 records every step)."""
    return {
        "data": {"version": str(version), "stage": stage, "max_records": 4, **(data or {})},
        "model": {"path": str(model)},
        "method": {"name": method} if isinstance(method, str) else method,
        "output_root": str(out),
        "training": {"max_steps": 3, "per_device_train_batch_size": 4, "learning_rate": 1e-2,
                     "max_length": 96, "save_steps": 2, **(training or {})},
        **extra,
    }
