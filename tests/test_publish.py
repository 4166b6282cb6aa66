"""curate publish: the card (license, sources, cleaning, rebuild), the push order, the dry run. No network."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from curate.build import build
from curate.app.cli import main
from curate.core.errors import UserError
from curate.publish.card import build_card, check_card, merge_hub_metadata
from curate.publish.hub import FolderHub, split_counts
from curate.publish.licenses import classify, most_restrictive
from curate.publish.push import publish
from curate.core.version import Version, load_version

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "demo.yaml"


def with_manifest(v: Version, edit) -> Version:
    m = copy.deepcopy(v.manifest)
    edit(m)
    return Version(dir=v.dir, manifest=m)


class RecordingHub:
    """Test double: records every operation; `push_splits` updates README.md metadata the way
    `push_to_hub` does (via FolderHub), so the card merge is exercised for real."""

    def __init__(self, root: Path, tags=(), existing_card: str | None = None):
        self.folder = FolderHub(root)
        self.ops: list[tuple] = []
        self.tags = list(tags)
        if existing_card:
            root.mkdir(parents=True, exist_ok=True)
            (root / "README.md").write_text(existing_card, encoding="utf-8")

    def validate_card(self, content):
        self.ops.append(("validate_card",))
        return "validated by test double"

    def list_tags(self, repo_id):
        self.ops.append(("list_tags", repo_id))
        return self.tags

    def create_repo(self, repo_id, private):
        self.ops.append(("create_repo", repo_id, private))
        self.folder.create_repo(repo_id, private)

    def push_splits(self, repo_id, config_name, splits, commit_message, kind="sft"):
        self.ops.append(("push_splits", repo_id, config_name, sorted(splits), commit_message))
        self.folder.push_splits(repo_id, config_name, splits, commit_message, kind)
        return f"c{sum(op[0] == 'push_splits' for op in self.ops)}"

    def read_card(self, repo_id, revision):
        self.ops.append(("read_card", repo_id, revision))
        return self.folder.read_card(repo_id, revision)

    def upload_card(self, repo_id, content, commit_message, parent_commit):
        self.ops.append(("upload_card", repo_id, parent_commit, commit_message))
        self.card = content
        return "card"

    def create_tag(self, repo_id, tag, revision, message):
        self.ops.append(("create_tag", repo_id, tag, revision))


# --- licenses --------------------------------------------------------------------------

@pytest.mark.parametrize("licenses, expected", [
    (["apache-2.0", "mit"], "apache-2.0"),
    (["apache-2.0", "cc-by-4.0"], "cc-by-4.0"),
    (["apache-2.0", "cc-by-sa-4.0", "cc-by-4.0"], "cc-by-sa-4.0"),
    (["cc-by-sa-4.0", "CC BY-NC 4.0", "apache-2.0"], "other"),  # NC + share-alike: no single license
    (["cc-by-4.0", "cc-by-nc-4.0"], "cc-by-nc-4.0"),
    (["apache-2.0", "Research only"], "other"),
    (["apache-2.0", None], "other"),
    (["llama2", "mit"], "other"),
])
def test_most_restrictive_license(licenses, expected):
    lic = most_restrictive([{"source": f"s{i}", "license": x} for i, x in enumerate(licenses)])
    assert lic.hub_id == expected
    assert lic.reason


def test_license_levels():
    assert classify("a", "cc-by-nc-sa-4.0").level == "non-commercial"
    assert classify("a", "仅限学术研究").level == "non-commercial"
    assert classify("a", "cc-by-nd-4.0").level == "no-derivatives"
    assert classify("a", "gpl-3.0").level == "share-alike"
    assert classify("a", "odc-by").level == "attribution"
    assert classify("a", "MIT").level == "permissive"
    assert classify("a", "").level == "unknown"


# --- card ----------------------------------------------------------------------------------

def test_card_parses_and_says_what_a_reader_needs(demo):
    text = build_card(demo, "someone/zh-mix", "demo-" + demo.id)
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["language"] == ["zh"]
    assert data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == ["n<1K"]
    assert check_card(text) == []
    body = card.text
    for src in ("alpaca_zh", "belle_zh", "sharegpt_zh", "cot_zh", "preference_zh"):
        assert src in body
    for inp in demo.manifest["inputs"]:
        assert inp["files"][0]["sha256"][:16] in body
    for step in demo.manifest["funnel"]:
        assert f"| {step['stage']} | {step['in']} | {step['kept']} | {step['rejected']} |" in body
    stages = [e if isinstance(e, str) else next(iter(e)) for e in demo.manifest["recipe"]["clean"]]
    assert ("No deduplication stage ran" in body) == ("dedup" not in stages)
    assert ("Not decontaminated" in body) == ("decontaminate" not in stages)
    assert demo.id in body and f"curate build {demo.name}.yaml" in body and "could not confirm" not in body
    assert 'revision="demo-' + demo.id in body


def test_card_tells_how_to_use_it_and_what_not_to_expect(demo):
    card = DatasetCard(build_card(demo, "someone/zh-mix", "demo-" + demo.id))
    data, body = card.data.to_dict(), card.text
    assert data["multilinguality"] == ["monolingual"] and data["task_ids"] == ["dialogue-modeling"]
    assert "machine-generated" in data["language_creators"] and data["source_datasets"] == ["original"]
    # an example of each kind, taken from the train split as the configs hold it
    train = demo.split("train")
    first_sft = train.filter(train["rejected"].is_null())["id"][0]
    first_pair = train.filter(train["rejected"].is_not_null())["id"][0]
    assert f'"id": "{first_sft}"' in body and f'"id": "{first_pair}"' in body
    assert 'load_dataset("someone/zh-mix", "demo-sft"' in body and "DPOTrainer(" in body
    for heading in ("## Uses, out of scope, limitations", "**Personal data:**", "## Citation", "## 中文简介"):
        assert heading in body
    assert "arXiv:2310.07328" in body and all(f"`{i['source']}`" in body for i in demo.manifest["inputs"])
    assert "Stage `dedup:exact`" in body and "Stage `dedup:minhash`" in body
    assert "max_turn_chars" not in body  # no dump of every default option of the other stages
    assert len(body.splitlines()) < 300


def test_card_recipe_rebuilds_the_same_version(demo, tmp_path):
    body = DatasetCard(build_card(demo, "someone/zh-mix", "t")).text
    recipe_yaml = body.split("```yaml\n")[-1].split("\n```")[0]
    shutil.copytree(REPO / "recipes" / "samples", tmp_path / "samples")
    (tmp_path / "demo.yaml").write_text(recipe_yaml, encoding="utf-8")
    assert build(tmp_path / "demo.yaml", tmp_path / "out").version == demo.id


def test_card_most_restrictive_license_and_every_source_listed(demo):
    def edit(m):
        lic = {"alpaca_zh": "cc-by-nc-4.0", "belle_zh": "cc-by-4.0", "cot_zh": None}
        for inp in m["inputs"]:
            inp["license"] = lic.get(inp["source"], inp["license"])

    v = with_manifest(demo, edit)
    card = DatasetCard(build_card(v, "someone/zh-mix", "t"))
    assert card.data.license == "other"  # cot_zh has no license: zhtune will not guess
    assert "**not given**" in card.text and "no license is recorded for cot_zh" in card.text
    assert "| alpaca_zh | `cc-by-nc-4.0` | non-commercial | non-commercial / research use only |" in card.text
    assert check_card(str(card)) == []

    def edit2(m):
        edit(m)
        m["inputs"][3]["license"] = "apache-2.0"

    card = DatasetCard(build_card(with_manifest(demo, edit2), "someone/zh-mix", "t"))
    assert card.data.license == "cc-by-nc-4.0"
    assert "most restrictive source license (non-commercial: alpaca_zh)" in card.text


def test_card_reports_dedup_and_decontamination(demo):
    def edit(m):
        m["recipe"]["clean"] += [{"dedup": {"method": "minhash", "threshold": 0.8}},
                                 {"decontaminate": {"against": ["ceval/val", "cmmlu/test"], "ngram": 13}}]
        m["inputs"][0]["files"] = [{"hub": "someone/alpaca-zh", "revision": "abc123", "records": 30}]

    card = DatasetCard(build_card(with_manifest(demo, edit), "someone/zh-mix", "t"))
    assert "threshold: 0.8" in card.text
    assert "Decontaminated against: `ceval/val`, `cmmlu/test`" in card.text
    assert card.data.source_datasets == ["someone/alpaca-zh"]
    assert "someone/alpaca-zh) @ `abc123`" in card.text


def test_card_invalid_metadata_is_caught():
    bad = "---\nlicense: cc-by-4\nlanguage: [chinese]\nsize_categories: [small]\n---\n# x\n"
    problems = " ".join(check_card(bad))
    assert "license" in problems and "language" in problems and "size_categories" in problems


# --- push order (test double) ------------------------------------------------------------

def test_push_operations_in_order_and_metadata_kept(demo, tmp_path):
    other = ("---\nlicense: mit\nconfigs:\n- config_name: other\n  data_files:\n  - split: train\n"
             "    path: other/train-*\n---\n# old card\n")
    hub = RecordingHub(tmp_path / "repo", existing_card=other)
    res = publish(demo, "someone/zh-mix", hub, private=True)
    tag = f"demo-{demo.id}"
    names = [op[0] for op in hub.ops]
    assert names == ["validate_card", "list_tags", "create_repo", "push_splits", "push_splits", "read_card",
                     "upload_card", "create_tag"]
    assert hub.ops[2] == ("create_repo", "someone/zh-mix", True)
    kinds = split_counts({s: demo.dir / f"{s}.parquet" for s in ("train", "test")})
    assert hub.ops[3][:4] == ("push_splits", "someone/zh-mix", "demo-sft", ["test", "train"])
    assert hub.ops[4][:3] == ("push_splits", "someone/zh-mix", "demo-dpo")
    assert hub.ops[5] == ("read_card", "someone/zh-mix", "c2")  # the card push_to_hub just wrote
    assert hub.ops[6][:3] == ("upload_card", "someone/zh-mix", "c2")
    assert hub.ops[7] == ("create_tag", "someone/zh-mix", tag, "card")  # the tag pins the card commit
    data = DatasetCard(hub.card).data
    configs = {c["config_name"]: c for c in data["configs"]}
    assert set(configs) == {"demo-sft", "demo-dpo", "other"}  # another recipe's config survives
    assert configs["demo-sft"]["data_files"] == [{"split": "train", "path": "demo-sft/train-*"},
                                                 {"split": "test", "path": "demo-sft/test-*"}]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    for kind in ("sft", "dpo"):
        assert {s["name"]: s["num_examples"] for s in infos[f"demo-{kind}"]["splits"]} == kinds[kind]
    assert sum(sum(k.values()) for k in kinds.values()) == demo.manifest["counts"]["train"] + demo.manifest[
        "counts"]["test"]
    assert data["license"] == "apache-2.0" and "# old card" not in hub.card
    assert res.commits == ["c1", "c2", "card"] and res.tag == tag


def test_push_refuses_an_already_published_version(demo, tmp_path):
    hub = RecordingHub(tmp_path / "repo", tags=[f"demo-{demo.id}"])
    with pytest.raises(UserError, match="already has tag"):
        publish(demo, "someone/zh-mix", hub)
    assert "create_repo" not in [op[0] for op in hub.ops]  # nothing uploaded


def test_bad_repo_id(demo, tmp_path):
    with pytest.raises(UserError, match="not a Hub dataset id"):
        publish(demo, "no-namespace", RecordingHub(tmp_path))


# --- dry run ---------------------------------------------------------------------------------

def test_dry_run_writes_what_would_be_uploaded(demo, tmp_path, capsys, monkeypatch):
    secret = "hf_zhtuneTESTsecretDoNotLeak"
    monkeypatch.setenv("HF_TOKEN", secret)
    out = tmp_path / "dry"
    assert main(["publish", str(demo.dir), "--repo", "someone/zh-mix", "--dry-run", "--out", str(out)]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    kinds = split_counts({s: demo.dir / f"{s}.parquet" for s in ("train", "test")})
    assert files == [".zhtune-dry-run", "README.md"] + sorted(f"demo-{k}/{s}-00000-of-00001.parquet" for k in kinds for s in kinds[k])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert check_card(card, "demo-sft") == [] and check_card(card, "demo-dpo") == []
    captured = capsys.readouterr()
    for text in [captured.out, captured.err] + [p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*")
                                                if p.is_file()]:
        assert secret not in text
    # the folder is a loadable dataset repo: the card's configs point at the Parquet files
    import datasets

    sft = datasets.load_dataset(str(out), "demo-sft", cache_dir=str(tmp_path / "cache"))
    dpo = datasets.load_dataset(str(out), "demo-dpo", cache_dir=str(tmp_path / "cache"))
    assert sft["train"].num_rows + dpo["train"].num_rows == demo.manifest["counts"]["train"]
    assert set(sft["train"]["id"]) | set(dpo["train"]["id"]) == set(demo.split("train")["id"].to_list())
    assert "rejected" not in sft["train"].column_names and "messages" not in dpo["train"].column_names

    again = tmp_path / "dry2"
    assert main(["publish", str(demo.dir), "--repo", "someone/zh-mix", "--dry-run", "--out", str(again)]) == 0
    for f in files:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f


def test_dry_run_refuses_a_foreign_folder(demo, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["publish", str(demo.dir), "--repo", "a/b", "--dry-run", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "keep.txt").exists()


def test_real_push_without_login_is_a_user_error(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert main(["publish", str(demo.dir), "--repo", "someone/zh-mix"]) == 2  # tests run with HF_HUB_OFFLINE=1
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    assert main(["publish", str(demo.dir), "--repo", "someone/zh-mix"]) == 2
    assert "not logged in" in capsys.readouterr().err


def test_merge_keeps_hub_metadata_only():
    ours = "---\nlicense: apache-2.0\n---\n# ours\n"
    theirs = "---\nlicense: mit\nconfigs:\n- config_name: x\n  data_files: x/*\n---\n# theirs\n"
    merged = DatasetCard(merge_hub_metadata(ours, theirs))
    assert merged.data.license == "apache-2.0" and merged.data["configs"][0]["config_name"] == "x"
    assert "# ours" in merged.text and "theirs" not in merged.text


def test_publish_diff_export_do_not_import_torch(demo, tmp_path):
    code = ("import sys; from curate.app.cli import main; "
            f"main(['publish', {str(demo.dir)!r}, '--repo', 'a/b', '--dry-run', '--out', {str(tmp_path / 'd')!r}]); "
            f"main(['diff', {str(demo.dir)!r}, {str(demo.dir)!r}]); "
            f"main(['export', {str(demo.dir)!r}, '--to', 'trl', '--out', {str(tmp_path / 'e')!r}]); "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; sys.exit(1 if bad else 0)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}  # this checkout's code
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_real_client_wiring(demo, tmp_path, monkeypatch):
    """HfHub over fakes of HfApi / push_to_hub / hf_hub_download: the arguments that reach the Hub."""
    import datasets
    import huggingface_hub

    from curate.publish.hub import HfHub

    calls = []

    class FakeApi:
        def list_repo_refs(self, repo_id, repo_type):
            calls.append(("list_repo_refs", repo_id, repo_type))
            return type("Refs", (), {"tags": []})()

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw))

        def create_commit(self, repo_id, operations, **kw):
            calls.append(("create_commit", repo_id, [op.path_in_repo for op in operations], kw["parent_commit"],
                          kw["repo_type"]))
            return type("Info", (), {"oid": "card-sha"})()

        def create_tag(self, repo_id, **kw):
            calls.append(("create_tag", repo_id, kw))

    def fake_push(self, repo_id, config_name="default", **kw):
        calls.append(("push_to_hub", repo_id, config_name, sorted(self), self["train"].num_rows))
        return type("Info", (), {"oid": "data-sha"})()

    def fake_download(repo_id, filename, repo_type, revision):
        calls.append(("hf_hub_download", repo_id, filename, repo_type, revision))
        p = tmp_path / "README.md"
        p.write_text("---\nconfigs:\n- config_name: demo-sft\n  data_files: demo-sft/*\n- config_name: demo-dpo\n  data_files: demo-dpo/*\ndataset_info:\n- config_name: demo-sft\n  splits:\n  - name: train\n    num_examples: 1\n- config_name: demo-dpo\n"
                     "  splits:\n  - name: train\n    num_examples: 1\n---\n", encoding="utf-8")
        return str(p)

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(datasets.DatasetDict, "push_to_hub", fake_push)
    hub = HfHub()
    hub.api = FakeApi()
    hub.validate_card = lambda content: "skipped"
    res = publish(demo, "someone/zh-mix", hub)
    names = [c[0] for c in calls]
    assert names == ["list_repo_refs", "create_repo", "push_to_hub", "push_to_hub", "hf_hub_download",
                     "create_commit", "create_tag"]
    assert calls[1][2] == {"repo_type": "dataset", "private": False, "exist_ok": True}
    kinds = split_counts({s: demo.dir / f"{s}.parquet" for s in ("train", "test")})
    assert calls[2] == ("push_to_hub", "someone/zh-mix", "demo-sft", ["test", "train"], kinds["sft"]["train"])
    assert calls[3] == ("push_to_hub", "someone/zh-mix", "demo-dpo", sorted(kinds["dpo"]), kinds["dpo"]["train"])
    assert calls[4] == ("hf_hub_download", "someone/zh-mix", "README.md", "dataset", "data-sha")
    assert calls[5] == ("create_commit", "someone/zh-mix", ["README.md"], "data-sha", "dataset")
    assert calls[6][2]["tag"] == f"demo-{demo.id}" and calls[6][2]["revision"] == "card-sha"
    assert calls[6][2]["repo_type"] == "dataset"
    assert res.commits == ["data-sha", "data-sha", "card-sha"]


def test_card_of_a_decontaminated_build(tmp_path):
    shutil.copytree(REPO / "recipes" / "samples", tmp_path / "samples")
    recipe = DEMO.read_text(encoding="utf-8").replace(
        "\nmix:", "\n  - decontaminate: {against: [samples/eval_demo.jsonl]}\nmix:", 1)
    (tmp_path / "demo.yaml").write_text(recipe, encoding="utf-8")
    v = load_version(build(tmp_path / "demo.yaml", tmp_path / "out").dir)
    step = next(s for s in v.manifest["funnel"] if s["stage"].startswith("decontaminate"))
    text = DatasetCard(build_card(v, "someone/zh-mix", "t")).text
    assert f"Decontaminated against: `samples/eval_demo.jsonl` — removed {step['rejected']} of {step['in']}" in text
    assert "per eval set: `samples/eval_demo.jsonl`" in text and "could not confirm" not in text


def test_hub_refusal_is_one_line(demo, tmp_path, capsys, monkeypatch):
    import importlib

    from huggingface_hub.errors import HfHubHTTPError, Response

    httpx = importlib.import_module(Response.__module__.split(".")[0])  # the HTTP client huggingface_hub uses

    class Refusing(RecordingHub):
        def create_repo(self, repo_id, private):
            resp = httpx.Response(403, request=httpx.Request("POST", "https://huggingface.co/api/repos/create"))
            raise HfHubHTTPError("403 Forbidden: you cannot write to someone\nmore detail", response=resp)

    monkeypatch.setattr("curate.publish.hub.HfHub", lambda: Refusing(tmp_path / "r"))
    assert main(["publish", str(demo.dir), "--repo", "someone/zh-mix"]) == 2
    err = capsys.readouterr().err
    assert "the Hub refused the push: 403 Forbidden: you cannot write to someone" in err and "Traceback" not in err
