"""Concurrent builds, a damaged cache, unfinished folders, kills during a swap, publish's folder rule,
an offline Hub and a judge that echoes its key: what must never lose, corrupt or leak data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from curate.build import build
from curate.app.cli import main
from curate.core.errors import UserError
from curate.core.version import MANIFEST, atomic_dir, damaged_files, load_version
from tests.conftest import REPO, write_jsonl, write_recipe
from tests.local_http import LocalJSONServer

ROWS = [{"instruction": f"问题{i}：解释一下", "output": f"回答{i}：好的，原因如下"} for i in range(30)]


@pytest.fixture
def recipe(tmp_path) -> Path:
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    return write_recipe(tmp_path, {"name": "r", "sources": [{"name": "s", "path": "data.jsonl"}],
                                   "split": {"test": 0.2}})


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "curate.app.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


# ---- two builds of one recipe racing ---------------------------------------------------------

@pytest.mark.slow
def test_concurrent_builds_end_with_one_complete_version(recipe, tmp_path):
    for attempt in range(3):
        out = tmp_path / f"builds{attempt}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "curate.app.cli", "build", str(recipe), "--out", str(out), "--quiet"]
        procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(2)]
        results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
        for stdout, stderr, rc in results:
            assert rc == 0, stderr
            assert "Traceback" not in stderr
        folders = {stdout.strip().splitlines()[-1] for stdout, _, _ in results}
        assert len(folders) == 1, folders
        version = load_version(folders.pop())  # verifies every file against the manifest
        assert damaged_files(version) == []
        assert {"train.parquet", "test.parquet", "rejected.parquet", "report.md"} <= set(version.manifest["files"])
        assert [p.name for p in (out / "r").iterdir() if p.is_dir()] == [version.id]  # no temp folder left
        again = _cli("build", str(recipe), "--out", str(out), cwd=tmp_path)
        assert "cache hit" in again.stderr  # a log line since the logging change


def test_a_build_waiting_for_the_lock_then_reports_a_cache_hit(recipe, tmp_path, capsys):
    """The lock is held across "built yet? else build": a second build waits, then hits the cache."""
    from curate.build import version_id
    from curate.recipe import load_recipe
    from curate.core.version import VersionWriter

    out = tmp_path / "b"
    vid, _ = version_id(load_recipe(recipe))
    writer = VersionWriter(out, "r", vid)
    waited = []
    first = build(recipe, out)  # the version exists
    with writer.lock():  # another process is (re)writing it
        t = threading.Thread(target=lambda: waited.append(build(recipe, out, on_wait=waited.append)))
        t.start()
        t.join(1.0)
        assert t.is_alive(), "the second build did not wait for the lock"
    t.join(60)
    assert waited[0].startswith("waiting for another build") and waited[1].cached and waited[1].dir == first.dir


# ---- a damaged cache -------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["delete_train", "truncate_train", "flip_byte_rejected", "delete_report",
                                    "delete_plot"])
def test_damaged_version_is_detected_everywhere(recipe, tmp_path, capsys, damage):
    res = build(recipe, tmp_path / "b")
    v = res.dir
    target = {"delete_train": v / "train.parquet", "truncate_train": v / "train.parquet",
              "flip_byte_rejected": v / "rejected.parquet", "delete_report": v / "report.md",
              "delete_plot": next((v / "plots").iterdir())}[damage]
    if damage.startswith("delete"):
        target.unlink()
    elif damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[:100])
    else:
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    rel = target.relative_to(v).as_posix()
    with pytest.raises(UserError, match=f"is damaged: {rel}"):
        load_version(v)
    # export, publish and train all open versions through load_version: one line naming the file
    for argv in (["export", str(v), "--to", "jsonl", "--out", str(tmp_path / "ex")],
                 ["publish", str(v), "--repo", "u/n", "--dry-run", "--out", str(tmp_path / "pub")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"damaged: {rel}" in err and "Traceback" not in err
    assert not (tmp_path / "ex").exists() and not (tmp_path / "pub").exists()
    # build notices, says so, and writes it again (same id, byte-identical files)
    assert main(["build", str(recipe), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert f"cached version {res.version} is damaged ({rel}" in captured.err and "rebuilding it" in captured.err
    assert damaged_files(load_version(v)) == []
    assert load_version(v).manifest["files"] == res.manifest["files"]


def test_train_reads_versions_verified(recipe, tmp_path):
    from train.data import open_version

    res = build(recipe, tmp_path / "b")
    (res.dir / "train.parquet").unlink()

    class Spec:
        def folder(self):
            return res.dir

    with pytest.raises(UserError, match="damaged: train.parquet missing"):
        open_version(Spec())


def test_a_folder_without_manifest_or_a_temp_folder_is_never_a_version(recipe, tmp_path, capsys):
    res = build(recipe, tmp_path / "b")
    leftover = res.dir.parent / f".tmp-{res.version}-999999999-x"
    leftover.mkdir()
    for f in res.dir.iterdir():
        if f.is_file():
            (leftover / f.name).write_bytes(f.read_bytes())
    with pytest.raises(UserError, match="unfinished build"):
        load_version(leftover)
    (res.dir / MANIFEST).unlink()
    with pytest.raises(UserError, match="not a version folder"):
        load_version(res.dir)
    with pytest.raises(UserError, match="not a version folder"):  # the recipe folder: the temp one is not counted
        load_version(res.dir.parent)
    assert main(["export", str(res.dir.parent), "--to", "jsonl", "--out", str(tmp_path / "ex")]) == 2
    assert not (tmp_path / "ex").exists()
    # the next build replaces the manifest-less folder and removes the dead writer's temp folder
    again = build(recipe, tmp_path / "b")
    assert not again.cached and damaged_files(load_version(again.dir)) == []
    assert not leftover.exists()


def test_live_writers_temp_folder_is_kept(tmp_path):
    """A temp folder whose pid is alive (another writer not holding our lock) is never removed."""
    final = tmp_path / "v1"
    live = tmp_path / f".tmp-v1-{os.getppid()}-abc"
    live.mkdir()
    with atomic_dir(final) as tmp:
        (tmp / "f.txt").write_text("x")
    assert live.exists() and (final / "f.txt").read_text() == "x"


# ---- --force and eval writes swap atomically -------------------------------------------------

def test_replace_swaps_and_a_kill_between_renames_keeps_the_old_folder(tmp_path, monkeypatch):
    final = tmp_path / "v1"
    with atomic_dir(final) as tmp:
        (tmp / "f.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def killed_after_first(src, dst):  # the old folder is set aside, then the process dies
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final, replace=True) as tmp:
            (tmp / "f.txt").write_text("new")
    monkeypatch.undo()
    assert not final.exists() and list(tmp_path.glob(".old-v1-*"))
    # the next writer puts the old complete folder back before anything else
    with pytest.raises(RuntimeError):
        with atomic_dir(final, replace=True):
            assert (final / "f.txt").read_text() == "old"
            raise RuntimeError("this writer fails too")
    assert (final / "f.txt").read_text() == "old"
    with atomic_dir(final, replace=True) as tmp:
        (tmp / "f.txt").write_text("new")
    assert (final / "f.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["v1"]


def test_force_rebuild_is_complete_and_leaves_nothing_behind(recipe, tmp_path):
    first = build(recipe, tmp_path / "b")
    again = build(recipe, tmp_path / "b", force=True)
    assert not again.cached and again.dir == first.dir
    assert damaged_files(load_version(again.dir)) == []
    assert [p.name for p in again.dir.parent.iterdir() if p.is_dir()] == [first.version]


# ---- publish ---------------------------------------------------------------------------------

def test_publish_dry_run_refuses_a_foreign_folder_and_deletes_nothing(recipe, tmp_path, capsys):
    v = build(recipe, tmp_path / "b").dir  # built without `mix:` (the card used to raise TypeError)
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    files = {"README.md": "# my project\n", "src/main.py": "print('hi')\n", "data.parquet": "x"}
    for name, text in files.items():
        (project / name).write_text(text)
    assert main(["publish", str(v), "--repo", "u/n", "--dry-run", "--out", str(project)]) == 2
    err = capsys.readouterr().err
    assert "not empty and was not written by `curate publish --dry-run`" in err and "Traceback" not in err
    assert {p.relative_to(project).as_posix(): p.read_text() for p in project.rglob("*") if p.is_file()} == files
    # an empty folder is fine, and a re-run replaces what the earlier dry run wrote
    out = tmp_path / "dry"
    assert main(["publish", str(v), "--repo", "u/n", "--dry-run", "--out", str(out)]) == 0
    assert (out / "README.md").exists()
    assert main(["publish", str(v), "--repo", "u/n", "--dry-run", "--out", str(out)]) == 0
    (tmp_path / "afile").write_text("x")
    assert main(["publish", str(v), "--repo", "u/n", "--dry-run", "--out", str(tmp_path / "afile")]) == 2
    assert (tmp_path / "afile").read_text() == "x"


def test_publish_offline_is_one_line(recipe, tmp_path, capsys, monkeypatch):
    import socket

    v = build(recipe, tmp_path / "b").dir
    with socket.socket() as s:  # a port nobody listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_TOKEN", "hf_notARealTokenForThisTest")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(c, "ENDPOINT", f"http://127.0.0.1:{port}")
    assert main(["publish", str(v), "--repo", "u/n"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ")
    assert "cannot reach the Hugging Face Hub" in err or "the Hub refused" in err, err


# ---- the judge never stores a key --------------------------------------------------------------

class EchoingEndpoint(LocalJSONServer):
    """Answers every request with an error body that echoes the Authorization header and the URL."""

    def __init__(self, status: int):
        super().__init__(lambda path, headers, body: (status, {"error": f"invalid key {headers.get('Authorization')} for {path}"}))


@pytest.mark.parametrize("status", [401, 503])
def test_judge_errors_and_settings_never_hold_the_key(monkeypatch, status):
    from eval.judge_client import JudgeClient, JudgeError, redact_url

    secret = "sk-zhtuneTESTsecret0123456789"
    url_key = "urlKEY0123456789abc"
    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", secret)
    ep = EchoingEndpoint(status)
    try:
        c = JudgeClient(f"http://127.0.0.1:{ep.port}/v1", "m", api_key_env="ZHTUNE_TEST_JUDGE_KEY", max_retries=1,
                        backoff_s=0.01, requests_per_minute=0, cache_dir=None)
        with pytest.raises(JudgeError) as e:
            c.complete([{"role": "user", "content": "x"}])
    finally:
        ep.close()
    assert "invalid key" in str(e.value) and secret not in str(e.value)  # the body is kept, the key is not
    in_url = JudgeClient(f"https://user:{url_key}@judge.example/v1?api_key={url_key}", "m",
                         api_key_env="ZHTUNE_TEST_JUDGE_KEY", cache_dir=None)
    assert url_key not in json.dumps(in_url.describe()) and url_key not in redact_url(f"https://{url_key}@h/v1")
    assert "judge.example" in in_url.describe()["url"]
