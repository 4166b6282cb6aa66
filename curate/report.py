"""report.md and its plots: what went in, what each stage removed and why, what came out."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from curate.report_plots import pyplot, save_figure
from curate.text import text_expr

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 80


def plot_funnel(manifest: dict, path: Path) -> None:
    plt = pyplot()
    steps = manifest["funnel"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [s["stage"] for s in steps]
    ax.bar(labels, [s["kept"] for s in steps], color="#4c72b0", label="kept")
    ax.bar(labels, [s["rejected"] for s in steps], bottom=[s["kept"] for s in steps], color="#dd8452", label="rejected")
    ax.set_ylabel("records")
    ax.set_title("Funnel: records kept and rejected by each stage")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    save_figure(fig, path)
    plt.close(fig)


def _short(text: str | None) -> str:
    t = (text or "").replace("\n", " ").replace("|", "\\|")
    return t[:EXAMPLE_CHARS] + ("…" if len(t) > EXAMPLE_CHARS else "")


def reject_examples(rejects: pl.DataFrame, top: int = 10) -> list[tuple[str, str, int, list[dict]]]:
    """Top (stage, reason) pairs with a few examples each."""
    if rejects.height == 0:
        return []
    counts = rejects.group_by("stage", "reason").len().sort(["len", "stage", "reason"], descending=[True, False, False])
    out = []
    for stage, reason, n in counts.head(top).iter_rows():
        rows = rejects.filter((pl.col("stage") == stage) & (pl.col("reason") == reason)).head(EXAMPLES_PER_REASON)
        examples = rows.select("source", "detail", "twin_id", "raw", pl.col("meta"), text_expr().alias("text")).to_dicts()
        out.append((stage, reason, n, examples))
    return out


def write_report(folder: Path, manifest: dict, train: pl.DataFrame, test: pl.DataFrame, rejects: pl.DataFrame) -> None:
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    plot_funnel(manifest, plots / "funnel.png")
    from curate.report_plots import plot_lengths, plot_mix
    from curate.report_sections import stage_sections

    kept = pl.concat([train, test]) if test.height else train
    plot_lengths(kept, plots / "lengths.png")
    plot_mix(manifest, kept, plots / "mix.png")

    lines = [f"# {manifest['name']} — version `{manifest['version']}`", ""]
    if not manifest["reproducible"]:
        lines += ["> **Not reproducible:** a Hub source has no pinned `revision`.", ""]
    lines += [f"train **{manifest['counts']['train']}** · test **{manifest['counts']['test']}** · "
              f"rejected **{manifest['counts']['rejected']}**", "", "## Inputs", "",
              "| source | format | type | license | read | kept | rejected |", "|---|---|---|---|---:|---:|---:|"]
    for inp in manifest["inputs"]:
        acc = manifest["accounting"][inp["source"]]
        lines.append(f"| {inp['source']} | {inp['format']} | {inp['type']} | {inp['license'] or '—'} | "
                     f"{acc['read']} | {acc['kept']} | {acc['rejected']} |")
    sources = [i["source"] for i in manifest["inputs"]]
    lines += ["", "## Funnel", "", "![funnel](plots/funnel.png)", "",
              "| stage | in | kept | rejected | " + " | ".join(f"−{s}" for s in sources) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(sources)]
    for step in manifest["funnel"]:
        per = [str(step["by_source"].get(s, {}).get("rejected", 0)) for s in sources]
        lines.append(f"| {step['stage']} | {step['in']} | {step['kept']} | {step['rejected']} | " + " | ".join(per) + " |")
    from curate.report_categories import category_section

    lines += ["", *category_section(manifest, plots)]
    lines += ["## Mix", "", "![mix](plots/mix.png)", "", f"Rule: `{manifest['mix']['rule']}` by {manifest['mix']['group_by']}; "
              "records in train + test.", "",
              "| group | available | requested | realized |", "|---|---:|---:|---:|"]
    requested = manifest["mix"].get("requested") or {}
    for g, n in manifest["mix"]["realized"].items():
        lines.append(f"| {g} | {manifest['mix']['available'].get(g, 0)} | {requested.get(g, '—')} | {n} |")
    if manifest["mix"].get("shortfall"):
        lines += ["", f"Shortfall (fewer records than requested): `{json.dumps(manifest['mix']['shortfall'])}`"]
    lines += ["", "## Lengths", "", "![lengths](plots/lengths.png)", ""]
    lines += stage_sections(manifest, rejects, plots, kept)
    lines += ["## Top reject reasons", ""]
    for stage, reason, n, examples in reject_examples(rejects):
        lines += [f"### {stage} · `{reason}` — {n}", ""]
        for ex in examples:
            where = f"{ex['meta']['file']}:{ex['meta']['line']}"
            extra = f" (twin `{ex['twin_id']}`)" if ex["twin_id"] else (f" — {_short(ex['detail'])}" if ex["detail"] else "")
            lines.append(f"- `{where}`{extra}: {_short(ex['text'] or ex['raw'])}")
        lines.append("")
    lines += ["## Rebuild", "", f"`curate build <recipe>` with the same recipe, inputs and zhtune code gives version "
              f"`{manifest['version']}` again, byte for byte.", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    from curate.figures import finish_figures

    finish_figures()  # the figures the renderer child drew are on disk before the files are listed
