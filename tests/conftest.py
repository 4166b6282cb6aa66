"""Shared test fixtures: the real data slices (skipped when absent), the built demo version, recipe writing helpers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ZHTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def shared_data() -> Path:
    """The real public slices in ../shared/data; the test skips cleanly when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data slices not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo recipe's version, built once per test session (read it, never write into it)."""
    from curate.build import build
    from curate.core.version import load_version

    return load_version(build(REPO / "recipes" / "demo.yaml", tmp_path_factory.mktemp("demo-builds")).dir)


@pytest.fixture(scope="session")
def tiny_pair():
    """(version folder, tiny model folder): a small built version and a tiny model trained on its text,
    made once per session; torch runs on one thread (tests/train_fixtures.py builds them)."""
    from train_fixtures import one_thread, tiny_setup

    one_thread()
    return tiny_setup()


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_recipe(folder: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
