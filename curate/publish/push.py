"""The order of a publish, the same for the Hub and for `--dry-run`'s folder.

1. build the card and validate it (before anything is uploaded);
2. refuse if the version's tag already exists;
3. `push_to_hub` the splits as TRL-native configs `<recipe>-sft` (`messages`) and `<recipe>-dpo`
   (`prompt`/`chosen`/`rejected` message lists), each with provenance columns: it writes
   `configs`/`dataset_info` into README.md;
4. read that README back and commit our card with those two keys carried over (so a later card
   upload never loses them, nor other recipes' configs);
5. tag that commit `<recipe name>-<version id>`, so every version stays loadable by revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curate.core.errors import UserError
from curate.publish.card import build_card, merge_hub_metadata, validate_or_raise
from curate.publish.hub import HubClient, config_name, split_counts
from curate.core.version import SPLITS, Version


@dataclass
class PublishResult:
    repo_id: str
    config: str  # the configs, comma-separated
    tag: str
    card: str
    splits: dict[str, Path]
    commits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def default_tag(version: Version) -> str:
    return f"{version.name}-{version.id}"


def check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in repo_id):
        raise UserError(f"--repo {repo_id!r} is not a Hub dataset id", hint="use user/name or org/name")


def publish(version: Version, repo_id: str, hub: HubClient, *, private: bool = False,
            tag: str | None = None) -> PublishResult:
    check_repo_id(repo_id)
    tag = tag or default_tag(version)
    splits = {s: version.dir / f"{s}.parquet" for s in SPLITS if (version.dir / f"{s}.parquet").exists()}
    card = build_card(version, repo_id, tag)
    validate_or_raise(card)
    kinds = split_counts(splits)
    configs = {kind: config_name(version.name, kind) for kind in kinds}
    res = PublishResult(repo_id, ", ".join(configs.values()), tag, card, splits)
    res.notes.append(hub.validate_card(card))
    if tag in hub.list_tags(repo_id):
        raise UserError(f"{repo_id} already has tag `{tag}`: version {version.id} is published",
                        hint="load it with revision=" + repr(tag) + ", or pass --revision-tag NAME for another tag")
    hub.create_repo(repo_id, private=private)
    msg = f"zhtune: {version.name} version {version.id}"
    for kind, config in configs.items():
        data_commit = hub.push_splits(repo_id, config, splits, commit_message=f"{msg} ({kind} data)", kind=kind)
        res.commits.append(data_commit)
    final = merge_hub_metadata(card, hub.read_card(repo_id, revision=data_commit))
    for config in configs.values():
        validate_or_raise(final, config)
    card_commit = hub.upload_card(repo_id, final, commit_message=f"{msg} (dataset card)", parent_commit=data_commit)
    hub.create_tag(repo_id, tag, revision=card_commit, message=msg)
    res.card, res.commits = final, [*res.commits, card_commit]
    return res
