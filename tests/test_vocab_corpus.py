"""Continued pre-training on a separate raw-text corpus (`pretrain.corpus`, `--pretrain-corpus`): the
files are read with file:line errors, their content (not their paths) names the model folder, and the
report records them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_fixtures import demo_rows, write_version

from curate.core.errors import UserError

DOCS = ["长城是中国古代的伟大建筑，全长两万多公里。", "春节是中国最重要的传统节日，人们会贴春联、吃饺子。",
        "人工智能正在改变我们的生活和工作方式。"]


def _corpus(root: Path) -> Path:
    """A folder with the three kinds of corpus file (our own sentences)."""
    import polars as pl

    folder = root / "corpus"
    (folder / "more").mkdir(parents=True)
    (folder / "a.txt").write_text(f"{DOCS[0]}\n\n  {DOCS[1]}  \n", encoding="utf-8")
    (folder / "b.jsonl").write_text(json.dumps({"text": DOCS[2], "source": "own"}, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    pl.DataFrame({"text": [DOCS[0] + DOCS[2]]}).write_parquet(folder / "more" / "c.parquet")
    (folder / "notes.md").write_text("not a corpus file", encoding="utf-8")
    return folder


def test_read_corpus_reads_every_kind_of_file(tmp_path):
    from train.pretrain import corpus_files, read_corpus

    folder = _corpus(tmp_path)
    assert [Path(shown).name for _, shown in corpus_files([str(folder)])] == ["a.txt", "b.jsonl", "c.parquet"]
    assert read_corpus([str(folder)]) == [DOCS[0], DOCS[1], DOCS[2], DOCS[0] + DOCS[2]]
    assert read_corpus([str(folder / "*.txt")]) == DOCS[:2]


@pytest.mark.parametrize("name, content, message", [
    ("bad.jsonl", '{"text": "好的"}\n{"body": "没有text"}\n', r"bad.jsonl:2: key `text`"),
    ("broken.jsonl", '{"text": "好的"}\n{"text": \n', r"broken.jsonl:2"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), r"latin1.txt: not UTF-8"),
    ("notes.md", "x", r"unknown file type `.md`"),
])
def test_bad_corpus_files_are_one_clear_error(tmp_path, name, content, message):
    from train.pretrain import read_corpus

    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(UserError, match=message):
        read_corpus([str(path)])
    with pytest.raises(UserError, match="no file matches"):
        read_corpus([str(tmp_path / "missing-*.txt")])


def test_corpus_pretraining_is_recorded_and_content_addressed(tiny_pair, tmp_path):
    from train.models import ModelSpec
    from train.config import PretrainOptions, VocabOptions
    from train.vocab import prepare_vocab_model

    version = write_version(tmp_path / "builds", demo_rows(repeat=3), version_id="v0corpus")
    spec = ModelSpec(path=str(tiny_pair[1]))
    corpus = _corpus(tmp_path)
    pretrain = PretrainOptions(max_steps=1, mode="embeddings", max_length=16, per_device_train_batch_size=2,
                               corpus=[str(corpus)])
    options = VocabOptions(add=10, min_count=2, pretrain=pretrain)
    first = prepare_vocab_model(spec, version, options, tmp_path / "models", log=lambda *_: None)
    report = json.loads((first / "vocab_report.json").read_text(encoding="utf-8"))
    assert report["pretraining"]["texts"] == 4 and report["pretraining"]["steps"] == 1
    assert [Path(c["path"]).name for c in report["pretraining"]["corpus"]] == ["a.txt", "b.jsonl", "c.parquet"]
    (corpus / "a.txt").write_text(DOCS[1] + "\n", encoding="utf-8")  # same paths, other text: another model
    second = prepare_vocab_model(spec, version, options, tmp_path / "models", log=lambda *_: None)
    assert second != first and second.parent == first.parent


def test_cli_corpus_needs_pretrain_steps(tiny_pair, tmp_path, capsys):
    from curate.app.cli import main

    version = write_version(tmp_path / "builds", demo_rows(repeat=3), version_id="v0corpus")
    code = main(["vocab", str(version), "--model", str(tiny_pair[1]), "--add", "5",
                 "--pretrain-corpus", str(_corpus(tmp_path))])
    assert code == 2 and "--pretrain-corpus needs --pretrain-steps" in capsys.readouterr().err
