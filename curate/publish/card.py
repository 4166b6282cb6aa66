"""The dataset card of a version: Hub metadata a machine can trust, and a body a careful reader can.

Everything comes from the version's manifest and splits; nothing is typed in by hand. The card
says what the mix may be used for (the most restrictive source license), where every record came
from, how it was cleaned, what the mix became, and how to rebuild the very same version.
"""

from __future__ import annotations

import json
from importlib import resources

from curate.core.errors import UserError
from curate.publish.card_sections import USES, citation, example, usage, zh_summary
from curate.publish.hub import split_counts
from curate.stages import stage_module
from curate.publish.licenses import HUB_LICENSES, MixLicense, most_restrictive
from curate.core.version import Version
from curate.core.yamlio import dump_yaml

TASK_CATEGORIES = ("text-generation",)
# stages with a section of their own in every card (`card_section`, CARD_TITLE, CARD_ABSENT in the stage module)
CARD_STAGES = ("dedup", "decontaminate")


def size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")):
        if n < bound:
            return label
    return "1B<n<10B"


def _known(resource: str) -> set[str]:
    data = json.loads(resources.files("datasets.utils.resources").joinpath(resource).read_text(encoding="utf-8"))
    return set(data)


def languages(version: Version) -> tuple[list[str], str]:
    """ISO codes covering >= 1% of records, and a sentence on where they come from."""
    import polars as pl

    frames = [version.split("train")]
    if (version.dir / "test.parquet").exists():
        frames.append(version.split("test"))
    lang = pl.concat([f.select("lang") for f in frames])["lang"]
    measured = lang.drop_nulls()
    if measured.len() == 0:
        return ["zh"], "`zh` is assumed: no language stage ran, so languages were not measured."
    codes = (measured.str.to_lowercase().str.replace("__label__", "").str.split("-").list.first()
             .str.split("_").list.first())
    counts = codes.value_counts(sort=True)
    known = _known("languages.json")
    keep = [c for c, n in counts.iter_rows() if n / lang.len() >= 0.01 and c in known]
    shares = ", ".join(f"{c} {n / lang.len():.0%}" for c, n in counts.iter_rows())
    return keep or ["zh"], f"Measured by the language stage on every record: {shares}."


def _stage_entries(recipe: dict, names: tuple[str, ...]) -> list[tuple[str, dict]]:
    out = []
    for entry in recipe.get("clean", []):
        name, opts = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        if name in names:
            out.append((name, opts or {}))
    return out


def card_data(version: Version, lic: MixLicense, langs: list[str], preference: bool) -> dict:
    m = version.manifest
    hub_sources = [f"{f['hub']}" for i in m["inputs"] for f in i["files"] if f.get("hub")]
    tags = ["zhtune", "chinese", "instruction-tuning", "sft"] + (["dpo", "preference"] if preference else [])
    data = {
        "pretty_name": f"{m['name']} (zhtune version {m['version']})",
        "language": langs,
        "license": lic.hub_id,
        "task_categories": list(TASK_CATEGORIES),
        "size_categories": [size_category(m["counts"]["train"] + m["counts"]["test"])],
        "tags": tags,
    }
    data["source_datasets"] = sorted(set(hub_sources)) or ["original"]
    data["multilinguality"] = ["monolingual" if len(langs) == 1 else "multilingual"]
    data["language_creators"] = ["machine-generated", "found"]  # see the card's Limitations
    data["task_ids"] = ["dialogue-modeling"]
    return data


def _steps(manifest: dict, names: tuple[str, ...]) -> list[dict]:
    """Funnel steps of the named stages, in order (`dedup`, or `dedup:exact` when labelled)."""
    return [st for st in manifest["funnel"] if st["stage"].split(":")[0] in names]


def _outcome(steps: list[dict], i: int) -> str:
    if i >= len(steps):
        return ""
    st = steps[i]
    reasons = ", ".join(f"{r} {n}" for r, n in st.get("reasons", {}).items())
    raw = dict(st.get("stats") or {})
    per_set = raw.pop("eval_sets", None)
    stats = "; ".join(f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in raw.items())
    sets = ""
    if isinstance(per_set, dict) and per_set:
        sets = "; per eval set: " + "; ".join(
            f"`{name}` {v.get('items', '?')} items, {v.get('matched_items', '?')} matched, "
            f"{v.get('records', '?')} training records removed" for name, v in per_set.items())
    return (f" — removed {st['rejected']} of {st['in']} records" + (f" ({reasons})" if reasons else "")
            + sets + (f"; stats: {stats}" if stats else ""))


def _table(header: list[str], rows: list[list]) -> str:
    head = "| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|\n"
    return head + "".join("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |\n" for r in rows)


def _origin(inp: dict) -> str:
    parts = []
    for f in inp["files"]:
        if f.get("hub"):
            rev = f.get("revision") or "UNPINNED"
            parts.append(f"[{f['hub']}](https://huggingface.co/datasets/{f['hub']}) @ `{rev}`")
        else:
            parts.append(f"`{f['path']}` (sha256 `{f['sha256'][:16]}…`)")
    return "<br>".join(parts)


def _yaml(obj) -> str:
    return dump_yaml(obj).rstrip()


def body(version: Version, repo_id: str, tag: str, lic: MixLicense, lang_note: str, preference: int,
         kinds: dict[str, dict[str, int]]) -> str:
    m = version.manifest
    recipe, c = m["recipe"], m["counts"]
    acc = m["accounting"]
    out = [f"# {m['name']} — zhtune version `{m['version']}`\n"]
    if recipe.get("description"):
        out.append(recipe["description"] + "\n")
    out.append(f"A Chinese instruction-tuning mix curated with zhtune: train **{c['train']}**, "
               f"test **{c['test']}** records ({preference} preference pairs); {c['rejected']} records read were "
               f"rejected, each with a reason. {lang_note}\n")
    out.append(usage(m["name"], repo_id, tag, kinds))
    out.append(example(version))

    out.append("## License and usage\n")
    out.append(f"**`{lic.hub_id}`** — {lic.reason}. A mix may only be used as its most restrictive source "
               "allows; every source's own terms still apply to its records:\n")
    rows = [[s.source, f"`{s.given}`" if s.given else "**not given**", s.level, s.usage] for s in lic.sources]
    out.append(_table(["source", "license", "kind", "usage"], rows))
    if lic.hub_id == "other":
        out.append("\nThe metadata says `other` because no single Hub license identifier describes these terms "
                   "truthfully; read the table above before using the data.\n")

    out.append("## Sources\n")
    rows = []
    for inp in m["inputs"]:
        a = acc.get(inp["source"], {})
        rows.append([inp["source"], inp["format"], inp["type"], _origin(inp), inp["records_read"],
                     a.get("kept", ""), a.get("rejected", "")])
    out.append(_table(["source", "format", "type", "origin (revision / file digest)", "read", "kept", "rejected"], rows))
    if not m.get("reproducible", True):
        out.append("\n**Warning:** at least one Hub source is not pinned to a revision; rebuilding may read "
                   "different data and give a different version id.\n")

    out.append("## How it was cleaned\n")
    out.append("Every record read is either in this mix or was rejected with a stage and a reason (kept in the "
               "build's `rejected.parquet`, not uploaded); read = kept + rejected holds for every source. "
               "The funnel:\n")
    rows = [[s["stage"], s["in"], s["kept"], s["rejected"],
             ", ".join(f"{r} {n}" for r, n in s.get("reasons", {}).items()) or "—"] for s in m["funnel"]]
    out.append(_table(["stage", "in", "kept", "rejected", "reasons"], rows))
    for name in CARD_STAGES:  # each stage writes its own section; the card says when it did not run
        module = stage_module(name)
        out.append(f"\n### {module.CARD_TITLE}\n")
        entries, steps = _stage_entries(recipe, (name,)), _steps(m, (name,))
        for i, (entry, opts) in enumerate(entries):
            title = steps[i]["stage"] if i < len(steps) else entry
            out += module.card_section(title, entry, opts, _outcome(steps, i), _yaml(opts))
        if not entries:
            out.append(module.CARD_ABSENT + "\n")
    from curate.publish.rebuild import rebuild_recipe

    other = [e for e in rebuild_recipe(recipe).get("clean", []) if (e if isinstance(e, str) else next(iter(e)))
             not in CARD_STAGES]
    if other:
        out.append("### Other stages\n")
        out.append("In order, with the options the recipe set (every other option at its default; the full resolved "
                   "settings are in the build's manifest): " + ", ".join(
                       f"`{e}`" if isinstance(e, str) else f"`{next(iter(e))}` ({json.dumps(next(iter(e.values())), ensure_ascii=False)})"
                       for e in other) + ".\n")

    mix = m["mix"]
    out.append("## Mix\n")
    rule = mix.get("rule") or "keep everything"
    out.append(f"Rule `{rule}` by {mix.get('group_by', 'source')}"
               + (f", total {mix['total']}" if mix.get("total") else "") + ", seed "
               + f"{recipe.get('seed')}; test share {recipe.get('split', {}).get('test', 0)}.\n")
    requested = mix.get("requested") or {}  # None for a recipe without `mix:` (keep everything)
    groups = sorted(set(mix.get("available", {})) | set(mix.get("realized", {})))
    groups = sorted(set(groups) | set(requested))
    rows = [[g, mix.get("available", {}).get(g, 0), requested.get(g, "—"),
             mix.get("realized", {}).get(g, 0), mix.get("shortfall", {}).get(g) or ""] for g in groups]
    out.append(_table(["group", "available after cleaning", "requested", "realized", "shortfall"], rows))
    short = {g: n for g, n in (mix.get("shortfall") or {}).items() if n}
    if short:
        why = ("not enough records of those groups survived cleaning, and the recipe does not sample with "
               "replacement" if not mix.get("replace") else "see the build report")
        out.append(f"\n**The mix is {sum(short.values())} records short of the request** ("
                   + ", ".join(f"{g} {n}" for g, n in short.items()) + f"): {why}.\n")

    out.append("## Fields\n")
    out.append("`id` (content hash of the record's messages + rejected reply), `source`, `type`, then `messages` "
               "(`-sft`) or `prompt` / `chosen` / `rejected` (`-dpo`), each a list of {role, content}; `lang`, "
               "`lang_score` (the language stage's label and confidence), `meta` ({file, line}: where the record "
               "was read).\n")

    out.append(USES)
    out.append("## Rebuild this exact version\n")
    from curate.publish.rebuild import rebuild_recipe, reproduces

    small = rebuild_recipe(recipe)
    local = any(not f.get("hub") for i in m["inputs"] for f in i["files"])
    where = (" put the source files at the listed paths next to it (their sha256 must match; local files are "
             "not part of this upload) and") if local else ""
    if reproduces(m, small):
        out.append(f"Save the recipe below as `{m['name']}.yaml`,{where} run `curate build {m['name']}.yaml`: with "
                   f"the same zhtune code and packages it prints version `{m['version']}` again (checked when this "
                   "card was written). ")
    else:
        small = recipe
        out.append("**zhtune could not confirm that the recipe below rebuilds this id** (it was written by a "
                   f"different zhtune code); it is the resolved recipe of version `{m['version']}`. ")
    out.append("The id is a hash of the resolved recipe, the input digests / Hub revisions, the zhtune "
               f"code (digest `{m.get('code')}`) and these package versions:\n")
    out.append("`" + ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items()) + "`\n")
    out.append(f"```yaml\n{_yaml(small)}\n```\n")
    out.append(citation(m))
    out.append(zh_summary(m["name"], c, preference, lic.hub_id))
    return "\n".join(out)


def build_card(version: Version, repo_id: str, tag: str) -> str:
    """README.md text (YAML metadata + body) for publishing `version` to `repo_id` at `tag`."""
    import polars as pl
    from huggingface_hub import DatasetCard, DatasetCardData

    lic = most_restrictive(version.manifest["inputs"])
    langs, note = languages(version)
    frames = [version.split("train")] + ([version.split("test")] if (version.dir / "test.parquet").exists() else [])
    n_pref = int(pl.concat([f.select("rejected") for f in frames])["rejected"].is_not_null().sum())
    data = DatasetCardData(**card_data(version, lic, langs, n_pref > 0))
    splits = {s: version.dir / f"{s}.parquet" for s in ("train", "test") if (version.dir / f"{s}.parquet").exists()}
    text = f"---\n{data.to_yaml()}\n---\n\n" + body(version, repo_id, tag, lic, note, n_pref, split_counts(splits))
    return str(DatasetCard(text))


def merge_hub_metadata(card: str, hub_card: str | None) -> str:
    """Our card, carrying over the `configs`/`dataset_info` that `push_to_hub` wrote on the Hub.

    Those keys describe every config in the repo (other recipes too), so they are taken verbatim.
    """
    from huggingface_hub import DatasetCard

    ours = DatasetCard(card)
    if hub_card:
        theirs = DatasetCard(hub_card).data
        for key in ("configs", "dataset_info"):
            if theirs.get(key) is not None:
                ours.data[key] = theirs.get(key)
    return str(ours)


def check_card(content: str, config_name: str | None = None) -> list[str]:
    """Offline checks of the card metadata against the Hub's vocabularies and `datasets`' parsers."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        data = DatasetCard(content).data
    except Exception as e:  # noqa: BLE001 - any parse failure is a broken card
        return [f"card does not parse: {e}"]
    problems = []
    lic = data.get("license")
    if lic not in HUB_LICENSES:
        problems.append(f"license `{lic}` is not a Hub license identifier")
    bad = [x for x in data.get("language") or [] if x not in _known("languages.json")]
    if not data.get("language") or bad:
        problems.append(f"language must list ISO codes (bad: {bad or 'missing'})")
    bad = [x for x in data.get("size_categories") or [] if x not in _known("size_categories.json")]
    if not data.get("size_categories") or bad:
        problems.append(f"size_categories invalid: {bad or 'missing'}")
    if not data.get("task_categories"):
        problems.append("task_categories missing")
    try:
        configs = MetadataConfigs.from_dataset_card_data(data)
        infos = DatasetInfosDict.from_dataset_card_data(data)
    except Exception as e:  # noqa: BLE001
        problems.append(f"configs/dataset_info do not parse: {e}")
    else:
        if config_name is not None and config_name not in configs:
            problems.append(f"configs has no entry for `{config_name}`")
        if config_name is not None and config_name not in infos:
            problems.append(f"dataset_info has no entry for `{config_name}`")
    return problems


def validate_or_raise(content: str, config_name: str | None = None) -> None:
    problems = check_card(content, config_name)
    if problems:
        raise UserError("dataset card is invalid: " + "; ".join(problems))
