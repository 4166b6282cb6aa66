"""The report's account of what cleaning did to each data type x content category (curate/categories.py)."""

from __future__ import annotations

from pathlib import Path

from curate.categories import CATEGORIES
from curate.report_plots import pyplot, save_figure

LARGEST = 8  # removals named in sentences


def _totals(rows: list[dict], by_type: bool) -> dict[tuple, dict[str, dict[str, int]]]:
    """(type, category) or (category,) -> stage -> {in, rejected}."""
    out: dict[tuple, dict[str, dict[str, int]]] = {}
    for r in rows:
        key = (r["type"], r["category"]) if by_type else (r["category"],)
        cell = out.setdefault(key, {}).setdefault(r["stage"], {"in": 0, "rejected": 0})
        cell["in"] += r["in"]
        cell["rejected"] += r["rejected"]
    return dict(sorted(out.items(), key=lambda kv: (kv[0][:-1], CATEGORIES.index(kv[0][-1]))))


def _removing_stages(manifest: dict) -> list[str]:
    hit = {r["stage"] for r in manifest.get("categories", []) if r["rejected"]}
    return [s["stage"] for s in manifest["funnel"] if s["stage"] in hit]


def _cell(c: dict[str, int] | None) -> str:
    if not c or not c["rejected"]:
        return "—" if not c else "0"
    return f"{c['rejected']} ({c['rejected'] / c['in']:.1%})"


def _table(manifest: dict, by_type: bool) -> list[str]:
    stages, first, last = _removing_stages(manifest), manifest["funnel"][0]["stage"], manifest["funnel"][-1]["stage"]
    head = ["type", "category"] if by_type else ["category"]
    lines = ["| " + " | ".join(head + ["loaded", *[f"−{s}" for s in stages], "kept", "kept share"]) + " |",
             "|" + "---|" * len(head) + "---:|" * (len(stages) + 3)]
    for key, per in _totals(manifest["categories"], by_type).items():
        loaded = per.get(first, {"in": 0})["in"]
        end = per.get(last)
        kept = end["in"] - end["rejected"] if end else 0
        lines.append("| " + " | ".join([*key, str(loaded), *[_cell(per.get(s)) for s in stages], str(kept),
                                        f"{kept / loaded:.1%}" if loaded else "—"]) + " |")
    return lines + [""]


def _largest(manifest: dict) -> list[str]:
    cells = [(c["rejected"] / c["in"], stage, key[0], c) for key, per in _totals(manifest["categories"], False).items()
             for stage, c in per.items() if c["rejected"] and stage != "mix"]
    cells.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [f"- `{stage}` removed **{share:.1%}** of {cat} records ({c['rejected']} of {c['in']} that reached it)"
            for share, stage, cat, c in cells[:LARGEST]] + ([""] if cells else [])


def plot_categories(manifest: dict, path: Path) -> None:
    """Heat map: share of the records entering each stage that it rejected, per type x category."""
    plt = pyplot()
    stages = [s for s in _removing_stages(manifest) if s != "mix"] or [s["stage"] for s in manifest["funnel"][:1]]
    totals = _totals(manifest["categories"], True)
    labels = [f"{t} · {c}" for t, c in totals]
    share = [[(per.get(s) or {}).get("rejected", 0) / max((per.get(s) or {}).get("in", 0), 1) for s in stages]
             for per in totals.values()]
    fig, ax = plt.subplots(figsize=(max(6.5, 3.2 + 1.15 * len(stages)), 1.4 + 0.32 * max(len(labels), 1)))
    im = ax.imshow(share or [[0.0]], cmap="Oranges", vmin=0, vmax=max(0.05, max((max(r) for r in share), default=0)),
                   aspect="auto")
    for i, per in enumerate(totals.values()):
        for j, s in enumerate(stages):
            c = per.get(s)
            if c and c["rejected"]:
                pct = c["rejected"] / c["in"]
                ax.text(j, i, f"{pct:.0%}\n{c['rejected']}/{c['in']}" if pct >= 0.005 else f"<1%\n{c['rejected']}/{c['in']}",
                        ha="center", va="center", fontsize=7, color="white" if pct > 0.6 * im.norm.vmax else "black")
    ax.set_xticks(range(len(stages)), stages, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("stage")
    ax.set_ylabel("data type · content category")
    ax.set_title("Share of the records reaching each stage that it rejected\n(rejected / reached, per data type · content category)", fontsize=9)
    fig.colorbar(im, ax=ax, label="share rejected", shrink=0.8)
    save_figure(fig, path)
    plt.close(fig)


def category_section(manifest: dict, plots: Path) -> list[str]:
    """Markdown: rejections per stage x content category (all types, then per type) and the heat map."""
    if not manifest.get("categories"):
        return []
    plot_categories(manifest, plots / "categories.png")
    return ["## What cleaning did to each kind of record", "",
            "Content category of each record as loaded, by the rules of `curate/categories.py` "
            "(docs/categories.md). A cell is the records a stage rejected and their share of the records "
            "of that category that reached the stage; `mix` drops are sampling by the recipe's weights, not "
            "cleaning, and the heat map leaves them out.", "",
            *_largest(manifest), *_table(manifest, False), *_table(manifest, True),
            "![categories](plots/categories.png)", ""]
