"""report.md and its plots: what went in, what each stage removed and why, what came out."""

from __future__ import annotations

import json
from pathlib import Path

from curate.report_plots import pyplot, save_figure


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


def write_report(folder: Path, manifest: dict, summary: dict) -> None:
    """report.md and plots/ from the manifest and the tables' summary (report_data.py: the same
    whether it was summed over one table or over many blocks)."""
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    plot_funnel(manifest, plots / "funnel.png")
    from curate.report_data import top_reasons
    from curate.report_plots import plot_lengths, plot_mix
    from curate.report_sections import stage_sections

    plot_lengths(summary["lengths"], plots / "lengths.png")
    plot_mix(manifest, summary.get("by_type", {}), plots / "mix.png")

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
    lines += stage_sections(manifest, plots, summary.get("passed", {}))
    lines += ["## Top reject reasons", ""]
    for stage, reason, n, examples in top_reasons(summary):
        lines += [f"### {stage} · `{reason}` — {n}", "", *examples, ""]
    lines += ["## Rebuild", "", f"`curate build <recipe>` with the same recipe, inputs and zhtune code gives version "
              f"`{manifest['version']}` again, byte for byte.", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    from curate.figures import finish_figures

    finish_figures()  # the figures the renderer child drew are on disk before the files are listed
