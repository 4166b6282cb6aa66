"""The few Hub operations `curate publish` needs, behind one small interface.

`HubClient` is what publish talks to. `HfHub` is the real one (huggingface_hub + `datasets`'
`push_to_hub`); `FolderHub` performs the same operations into a local folder, which is how
`--dry-run` writes exactly what would be uploaded; tests use a recording double.

The token is never read, held, printed or written here: `HfApi()` and `push_to_hub` resolve it
themselves from `HF_TOKEN` or the standard login (`hf auth login`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from curate.core.errors import UserError

CARD = "README.md"


class HubClient(Protocol):
    def validate_card(self, content: str) -> str:
        """Check the card where the Hub checks it; return a one-line note of what was checked."""

    def list_tags(self, repo_id: str) -> list[str]:
        """Tags of the dataset repo ([] if the repo does not exist yet)."""

    def create_repo(self, repo_id: str, private: bool) -> None: ...

    def push_splits(self, repo_id: str, config_name: str, splits: dict[str, Path], commit_message: str,
                    kind: str = "sft") -> str:
        """Upload one kind (`sft` / `dpo`) of the splits' Parquet with `push_to_hub` (which also writes `configs`/`dataset_info`
        into README.md); return the commit id."""

    def read_card(self, repo_id: str, revision: str) -> str | None: ...

    def upload_card(self, repo_id: str, content: str, commit_message: str, parent_commit: str) -> str:
        """Commit README.md on top of `parent_commit`; return the new commit id."""

    def create_tag(self, repo_id: str, tag: str, revision: str, message: str) -> None: ...


def config_name(version_name: str, kind: str) -> str:
    """Hub config of one record kind of a recipe: `<recipe>-sft` / `<recipe>-dpo`."""
    return f"{version_name}-{kind}"


def split_counts(splits: dict[str, Path]) -> dict[str, dict[str, int]]:
    """kind -> split -> records of that kind (only non-zero ones)."""
    import polars as pl

    out: dict[str, dict[str, int]] = {}
    for name, path in splits.items():
        pref = int(pl.read_parquet(path, columns=["rejected"])["rejected"].is_not_null().sum())
        total = pl.read_parquet(path, columns=["id"]).height
        for kind, n in (("sft", total - pref), ("dpo", pref)):
            if n:
                out.setdefault(kind, {})[name] = n
    return out


def dataset_dict(splits: dict[str, Path], kind: str = "sft"):
    """One TRL-native kind (`curate.export.trl_table`) of the splits as a `datasets.DatasetDict`
    with plain (not large_) Arrow types; splits without records of that kind are left out."""
    import polars as pl
    from datasets import Dataset, DatasetDict, Features, List, Value

    from curate.export import trl_table

    s = Value("string")
    turns = List({"role": s, "content": s})
    cols = {"messages": turns} if kind == "sft" else {"prompt": turns, "chosen": turns, "rejected": turns}
    features = Features({"id": s, "source": s, "type": s, **cols, "lang": s, "lang_score": Value("float64"),
                         "meta": {"file": s, "line": Value("int64")}})
    out = {}
    for name, path in splits.items():
        df = trl_table(pl.read_parquet(path), kind)
        if df.height:
            out[name] = Dataset.from_polars(df.select(list(features)), features=features)
    return DatasetDict(out)


class HfHub:
    """The real Hub, through huggingface_hub and `datasets`. Needs the network and a login."""

    def __init__(self) -> None:
        from huggingface_hub import HfApi, constants, get_token

        if constants.HF_HUB_OFFLINE:
            raise UserError("HF_HUB_OFFLINE is set: cannot reach the Hub",
                            hint="unset HF_HUB_OFFLINE to publish, or use --dry-run")
        if get_token() is None:  # only asks whether one exists; the value is never kept
            raise UserError("not logged in to the Hugging Face Hub",
                            hint="set HF_TOKEN or run `hf auth login`; or try `--dry-run` first")
        self.api = HfApi()

    def validate_card(self, content: str) -> str:
        from huggingface_hub import DatasetCard

        try:
            DatasetCard(content).validate()
        except ValueError as e:
            raise UserError(f"the Hub rejected the dataset card: {e}") from None
        return "card metadata validated by the Hub (api/validate-yaml)"

    def list_tags(self, repo_id: str) -> list[str]:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            refs = self.api.list_repo_refs(repo_id, repo_type="dataset")
        except RepositoryNotFoundError:
            return []
        return [t.name for t in refs.tags]

    def create_repo(self, repo_id: str, private: bool) -> None:
        self.api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)

    def push_splits(self, repo_id: str, config_name: str, splits: dict[str, Path], commit_message: str,
                    kind: str = "sft") -> str:
        info = dataset_dict(splits, kind).push_to_hub(repo_id, config_name=config_name, commit_message=commit_message)
        return info.oid

    def read_card(self, repo_id: str, revision: str) -> str | None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            path = hf_hub_download(repo_id, CARD, repo_type="dataset", revision=revision)
        except EntryNotFoundError:
            return None
        return Path(path).read_text(encoding="utf-8")

    def upload_card(self, repo_id: str, content: str, commit_message: str, parent_commit: str) -> str:
        from huggingface_hub import CommitOperationAdd

        info = self.api.create_commit(
            repo_id, operations=[CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=content.encode("utf-8"))],
            commit_message=commit_message, repo_type="dataset", parent_commit=parent_commit)
        return info.oid

    def create_tag(self, repo_id: str, tag: str, revision: str, message: str) -> None:
        self.api.create_tag(repo_id, tag=tag, revision=revision, tag_message=message, repo_type="dataset")


class FolderHub:
    """The same operations into a local folder, as a fresh repo would receive them (`--dry-run`).

    Parquet shards are written the way `push_to_hub` writes them (same sharding, names and
    writer), and README.md gets the `configs`/`dataset_info` metadata `push_to_hub` would add.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tags: dict[str, str] = {}
        self.commits = 0

    def _commit(self) -> str:
        self.commits += 1
        return f"local-{self.commits}"

    def validate_card(self, content: str) -> str:
        return "card checked locally (Hub validation needs the network; it runs again on a real push)"

    def list_tags(self, repo_id: str) -> list[str]:
        return list(self.tags)

    def create_repo(self, repo_id: str, private: bool) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def push_splits(self, repo_id: str, config_name: str, splits: dict[str, Path], commit_message: str,
                    kind: str = "sft") -> str:
        from datasets import DatasetInfo, SplitDict, SplitInfo, config, disable_progress_bars
        from datasets.arrow_writer import get_writer_batch_size_from_data_size, get_writer_batch_size_from_features
        from datasets.info import DatasetInfosDict
        from datasets.utils.metadata import MetadataConfigs
        from datasets.utils.py_utils import convert_file_size_to_int
        from huggingface_hub import DatasetCard, DatasetCardData

        disable_progress_bars()
        dd = dataset_dict(splits, kind)
        data_dir = config_name if config_name != "default" else "data"
        info = DatasetInfo(config_name=config_name, features=None, splits=SplitDict(), download_size=0, dataset_size=0)
        for split, ds in dd.items():
            nbytes = ds._estimate_nbytes()  # the same sharding and writer batch size as push_to_hub
            batch = get_writer_batch_size_from_features(ds.features) or get_writer_batch_size_from_data_size(
                len(ds), nbytes)
            num_shards = int(nbytes / convert_file_size_to_int(config.MAX_SHARD_SIZE)) + 1
            uploaded = 0
            for index in range(num_shards):
                path = self.root / data_dir / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                ds.shard(num_shards=num_shards, index=index, contiguous=True).to_parquet(path, batch_size=batch)
                uploaded += path.stat().st_size
            info.features = ds.features
            info.splits.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=len(ds)))
            info.download_size += uploaded
            info.dataset_size += nbytes
        info.size_in_bytes = info.download_size + info.dataset_size
        card_path = self.root / CARD
        card = DatasetCard(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
        data = card.data if card is not None else DatasetCardData()
        DatasetInfosDict({config_name: info}).to_dataset_card_data(data)
        files = [{"split": s, "path": f"{data_dir}/{s}-*"} for s in dd]
        MetadataConfigs({config_name: {"data_files": files}}).to_dataset_card_data(data)
        card = card if card is not None else DatasetCard(f"---\n{data}\n---\n")
        card_path.write_text(str(card), encoding="utf-8")
        return self._commit()

    def read_card(self, repo_id: str, revision: str) -> str | None:
        p = self.root / CARD
        return p.read_text(encoding="utf-8") if p.exists() else None

    def upload_card(self, repo_id: str, content: str, commit_message: str, parent_commit: str) -> str:
        (self.root / CARD).write_text(content, encoding="utf-8")
        return self._commit()

    def create_tag(self, repo_id: str, tag: str, revision: str, message: str) -> None:
        self.tags[tag] = revision
