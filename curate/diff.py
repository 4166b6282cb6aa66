"""What changed between two versions: recipe keys, inputs, records (by id), mix and funnel.

Everything is computed from the two manifests and the two versions' splits, so a diff is as
trustworthy as the versions themselves. `diff_versions` returns plain JSON-able data;
`render_text` turns it into the terminal view.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.categories import CATEGORIES, category_expr, kept_category_counts
from curate.core.version import SPLITS, Version

_MISSING = "<absent>"


def _entities(recipe: dict) -> dict[str, Any]:
    """Named parts of a recipe: `sources[alpaca_zh]`, `clean[dedup]` (`clean[dedup#2]` if repeated)."""
    out: dict[str, Any] = {f"sources[{s['name']}]": {k: v for k, v in s.items() if k != "name"}
                           for s in recipe.get("sources", [])}
    seen: dict[str, int] = {}
    for entry in recipe.get("clean", []):
        name, opts = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        seen[name] = seen.get(name, 0) + 1
        out[f"clean[{name}{'' if seen[name] == 1 else '#' + str(seen[name])}]"] = opts or {}
    return out


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key paths; sources and stages are keyed by name, so inserting a stage does not
    renumber the others (`sources[alpaca_zh].license`, `clean[dedup].threshold`)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and (obj or not prefix):
        for k, v in obj.items():
            if not prefix and k in ("sources", "clean"):
                continue
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        if not prefix:
            for ent, v in _entities(obj).items():
                out.update(flatten(v, ent) if v else {ent: {}})
    else:
        out[prefix] = obj
    return out


def _stage_order(recipe: dict) -> list[str]:
    return [e if isinstance(e, str) else next(iter(e)) for e in recipe.get("clean", [])]


def recipe_changes(a: dict, b: dict) -> list[dict]:
    fa, fb = flatten(a), flatten(b)
    ea, eb = _entities(a), _entities(b)
    out = []
    for ent in [e for e in ea if e not in eb] + [e for e in eb if e not in ea]:  # whole source/stage
        out.append({"key": ent, "change": "removed" if ent in ea else "added",
                    "a": ea.get(ent), "b": eb.get(ent)})
    gone = tuple(e for e in list(ea) + list(eb) if (e in ea) != (e in eb))
    for key in sorted(set(fa) | set(fb)):
        if gone and key.startswith(gone):
            continue
        va, vb = fa.get(key, _MISSING), fb.get(key, _MISSING)
        if va != vb:
            kind = "added" if va == _MISSING else "removed" if vb == _MISSING else "changed"
            out.append({"key": key, "change": kind, "a": None if va == _MISSING else va,
                        "b": None if vb == _MISSING else vb})
    oa, ob = _stage_order(a), _stage_order(b)
    common_a, common_b = [x for x in oa if x in ob], [x for x in ob if x in oa]
    if common_a != common_b:
        out.append({"key": "clean (order)", "change": "changed", "a": oa, "b": ob})
    return out


def _fingerprint(inp: dict) -> list:
    return sorted((f.get("path") or f.get("hub"), f.get("sha256") or f.get("revision")) for f in inp["files"])


def input_changes(a: list[dict], b: list[dict]) -> list[dict]:
    ia, ib = {i["source"]: i for i in a}, {i["source"]: i for i in b}
    out = []
    for s in list(ia) + [s for s in ib if s not in ia]:
        x, y = ia.get(s), ib.get(s)
        if x is None or y is None:
            src = x or y
            out.append({"source": s, "change": "removed" if y is None else "added", "license": src.get("license"),
                        "records_read": src["records_read"], "files": _fingerprint(src)})
            continue
        fields = {}
        for key in ("format", "type", "license", "records_read"):
            if x.get(key) != y.get(key):
                fields[key] = {"a": x.get(key), "b": y.get(key)}
        if _fingerprint(x) != _fingerprint(y):
            fields["files"] = {"a": _fingerprint(x), "b": _fingerprint(y)}
        if fields:
            out.append({"source": s, "change": "changed", "fields": fields})
    return out


def _records(v: Version) -> pl.DataFrame:
    frames = []
    for split in SPLITS:
        if (v.dir / f"{split}.parquet").exists():
            frames.append(v.split(split).select("id", "source", "type").with_columns(pl.lit(split).alias("split")))
    if not frames:
        return pl.DataFrame(schema={"id": pl.String, "source": pl.String, "type": pl.String, "split": pl.String})
    return pl.concat(frames).unique(subset=["id", "source"], keep="first", maintain_order=True)


def record_changes(a: Version, b: Version) -> dict:
    ra, rb = _records(a), _records(b)
    added = rb.join(ra, on=["id", "source"], how="anti")
    removed = ra.join(rb, on=["id", "source"], how="anti")
    both = ra.join(rb, on=["id", "source"], how="inner", suffix="_b")
    moved = both.filter(pl.col("split") != pl.col("split_b"))

    def by_group(df: pl.DataFrame) -> list[dict]:
        if df.height == 0:
            return []
        g = df.group_by("source", "type").agg(pl.len().alias("n"), pl.col("id").sort().alias("ids"))
        return g.sort("source", "type").to_dicts()

    return {
        "a": ra.height, "b": rb.height, "kept": both.height,
        "added": added.height, "removed": removed.height,
        "moved_split": [{"id": r["id"], "source": r["source"], "from": r["split"], "to": r["split_b"]}
                        for r in moved.sort("id").to_dicts()],
        "added_by": by_group(added), "removed_by": by_group(removed),
    }


def _kept(v: Version) -> pl.DataFrame:
    frames = [v.split(s) for s in SPLITS if (v.dir / f"{s}.parquet").exists()]
    return pl.concat(frames).unique(subset=["source", "meta"]) if frames else pl.DataFrame()


def _rejected_by_stage(v: Version) -> dict[tuple[str, str], int]:
    rej = v.rejected()
    if rej.height == 0:
        return {}
    return {(s, c): n for s, c, n in rej.select("stage", category_expr()).group_by("stage", "category").len().iter_rows()}


def category_changes(a: Version, b: Version) -> dict:
    """Kept records per data type x content category, and rejections per stage x category, A vs B.

    Both versions are categorised here with the current rules (curate/categories.py), from their own
    splits and rejects, so the comparison holds even when the rules changed between the builds.
    """
    ka, kb = kept_category_counts(_kept(a)), kept_category_counts(_kept(b))
    order = lambda key: (key[0], CATEGORIES.index(key[1]))  # noqa: E731
    kept = [{"type": t, "category": c, "a": ka.get((t, c), 0), "b": kb.get((t, c), 0),
             "delta": kb.get((t, c), 0) - ka.get((t, c), 0)} for t, c in sorted(set(ka) | set(kb), key=order)]
    ra, rb = _rejected_by_stage(a), _rejected_by_stage(b)
    stages = _merge_order([s["stage"] for s in a.manifest["funnel"]], [s["stage"] for s in b.manifest["funnel"]])
    rank = lambda key: (stages.index(key[0]) if key[0] in stages else len(stages), key[0], CATEGORIES.index(key[1]))  # noqa: E731
    rejected = [{"stage": s, "category": c, "a": ra.get((s, c), 0), "b": rb.get((s, c), 0)}
                for s, c in sorted(set(ra) | set(rb), key=rank) if ra.get((s, c), 0) != rb.get((s, c), 0)]
    return {"kept": kept, "rejected": rejected}


def mix_shift(a: dict, b: dict) -> dict:
    ra, rb = a.get("realized", {}), b.get("realized", {})
    ta, tb = sum(ra.values()) or 1, sum(rb.values()) or 1
    rows = []
    for g in sorted(set(ra) | set(rb)):
        x, y = ra.get(g, 0), rb.get(g, 0)
        rows.append({"group": g, "a": x, "b": y, "delta": y - x, "share_a": round(x / ta, 4),
                     "share_b": round(y / tb, 4), "shortfall_a": a.get("shortfall", {}).get(g),
                     "shortfall_b": b.get("shortfall", {}).get(g)})
    rules = {"rule": {"a": a.get("rule"), "b": b.get("rule")}, "group_by": {"a": a.get("group_by"), "b": b.get("group_by")}}
    return {"groups": rows, **{k: v for k, v in rules.items() if v["a"] != v["b"]}}


def _merge_order(a: list[str], b: list[str]) -> list[str]:
    """B's order, with stages only in A placed where they ran in A."""
    out = list(b)
    for i, st in enumerate(a):
        if st not in out:
            prev = next((a[j] for j in range(i - 1, -1, -1) if a[j] in out), None)
            out.insert(out.index(prev) + 1 if prev else 0, st)
    return out


def funnel_changes(a: list[dict], b: list[dict]) -> list[dict]:
    fa, fb = {s["stage"]: s for s in a}, {s["stage"]: s for s in b}
    order = _merge_order([s["stage"] for s in a], [s["stage"] for s in b])
    out = []
    for st in order:
        x, y = fa.get(st), fb.get(st)
        row: dict[str, Any] = {"stage": st, "status": "only_a" if y is None else "only_b" if x is None else "both"}
        for k in ("in", "kept", "rejected"):
            row[k] = {"a": x[k] if x else None, "b": y[k] if y else None}
        reasons = set((x or {}).get("reasons", {})) | set((y or {}).get("reasons", {}))
        row["reasons"] = {r: {"a": (x or {}).get("reasons", {}).get(r, 0), "b": (y or {}).get("reasons", {}).get(r, 0)}
                          for r in sorted(reasons)
                          if (x or {}).get("reasons", {}).get(r, 0) != (y or {}).get("reasons", {}).get(r, 0)}
        row["changed"] = row["status"] != "both" or any(row[k]["a"] != row[k]["b"] for k in ("in", "kept", "rejected")) \
            or bool(row["reasons"])
        out.append(row)
    return out


def diff_versions(a: Version, b: Version) -> dict:
    ma, mb = a.manifest, b.manifest
    return {
        "a": {"name": ma["name"], "version": ma["version"], "dir": str(a.dir), "counts": ma["counts"]},
        "b": {"name": mb["name"], "version": mb["version"], "dir": str(b.dir), "counts": mb["counts"]},
        "same": ma["version"] == mb["version"],
        "recipe": recipe_changes(ma["recipe"], mb["recipe"]),
        "inputs": input_changes(ma["inputs"], mb["inputs"]),
        "code": None if ma.get("code") == mb.get("code") else {"a": ma.get("code"), "b": mb.get("code")},
        "packages": {k: {"a": ma.get("packages", {}).get(k), "b": mb.get("packages", {}).get(k)}
                     for k in sorted(set(ma.get("packages", {})) | set(mb.get("packages", {})))
                     if ma.get("packages", {}).get(k) != mb.get("packages", {}).get(k)},
        "records": record_changes(a, b),
        "mix": mix_shift(ma.get("mix", {}), mb.get("mix", {})),
        "categories": category_changes(a, b),
        "funnel": funnel_changes(ma["funnel"], mb["funnel"]),
    }


def _short(v: Any, width: int = 60) -> str:
    import json

    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= width else s[: width - 1] + "…"


def render_text(d: dict, show_ids: int = 5) -> str:
    a, b = d["a"], d["b"]
    lines = [f"A {a['name']}/{a['version']}  train {a['counts']['train']} test {a['counts']['test']} "
             f"rejected {a['counts']['rejected']}",
             f"B {b['name']}/{b['version']}  train {b['counts']['train']} test {b['counts']['test']} "
             f"rejected {b['counts']['rejected']}"]
    if d["same"]:
        return "\n".join(lines + ["same version id: nothing changed"]) + "\n"
    lines.append("")
    lines.append(f"recipe: {len(d['recipe'])} key(s) changed" if d["recipe"] else "recipe: unchanged")
    for c in d["recipe"]:
        if c["change"] == "added":
            lines.append(f"  + {c['key']}: {_short(c['b'])}")
        elif c["change"] == "removed":
            lines.append(f"  - {c['key']}: {_short(c['a'])}")
        else:
            lines.append(f"  ~ {c['key']}: {_short(c['a'])} -> {_short(c['b'])}")
    lines.append(f"inputs: {len(d['inputs'])} source(s) changed" if d["inputs"] else "inputs: unchanged")
    for c in d["inputs"]:
        if c["change"] != "changed":
            lines.append(f"  {'+' if c['change'] == 'added' else '-'} {c['source']} ({c['records_read']} records, "
                         f"license {c['license']})")
        else:
            parts = [f"{k} {_short(v['a'], 30)} -> {_short(v['b'], 30)}" if k != "files" else "files changed"
                     for k, v in c["fields"].items()]
            lines.append(f"  ~ {c['source']}: " + "; ".join(parts))
    if d["code"]:
        lines.append(f"code: {d['code']['a']} -> {d['code']['b']}")
    for k, v in d["packages"].items():
        lines.append(f"package {k}: {v['a']} -> {v['b']}")
    r = d["records"]
    lines.append("")
    lines.append(f"records: {r['a']} -> {r['b']}  (+{r['added']} added, -{r['removed']} removed, "
                 f"{r['kept']} in both, {len(r['moved_split'])} moved between train/test)")
    for sign, key in (("+", "added_by"), ("-", "removed_by")):
        for g in r[key]:
            ids = ", ".join(g["ids"][:show_ids]) + (", …" if len(g["ids"]) > show_ids else "")
            lines.append(f"  {sign}{g['n']:<4} {g['source']} / {g['type']}: {ids}")
    lines.append("")
    lines.append("mix (realized):")
    w = max([len(g["group"]) for g in d["mix"]["groups"]] + [5])
    lines.append(f"  {'group':<{w}} {'A':>6} {'B':>6} {'Δ':>6}  {'share A':>7} {'share B':>7}")
    for g in d["mix"]["groups"]:
        lines.append(f"  {g['group']:<{w}} {g['a']:>6} {g['b']:>6} {g['delta']:>+6}  {g['share_a']:>7.1%} "
                     f"{g['share_b']:>7.1%}" + (f"  shortfall B {g['shortfall_b']}" if g["shortfall_b"] else ""))
    for k in ("rule", "group_by"):
        if k in d["mix"]:
            lines.append(f"  {k}: {d['mix'][k]['a']} -> {d['mix'][k]['b']}")
    lines += ["", "content categories (kept records, by type):"]
    cats = d["categories"]
    w = max([len(f"{g['type']} / {g['category']}") for g in cats["kept"]] + [5])
    lines.append(f"  {'type / category':<{w}} {'A':>6} {'B':>6} {'Δ':>6}")
    for g in cats["kept"]:
        lines.append(f"  {g['type'] + ' / ' + g['category']:<{w}} {g['a']:>6} {g['b']:>6} {g['delta']:>+6}")
    if cats["rejected"]:
        lines.append("  rejected by stage / category (changed only): " + "; ".join(
            f"{r['stage']} / {r['category']} {r['a']}->{r['b']}" for r in cats["rejected"]))
    lines.append("")
    lines.append("funnel (in / kept / rejected):")
    w = max(len(s["stage"]) for s in d["funnel"])
    for s in d["funnel"]:
        fmt = lambda side: "—" if s["in"][side] is None else f"{s['in'][side]}/{s['kept'][side]}/{s['rejected'][side]}"  # noqa: E731
        mark = "~" if s["changed"] else " "
        extra = {"only_a": "  (only in A)", "only_b": "  (only in B)"}.get(s["status"], "")
        reasons = "; ".join(f"{k} {v['a']}->{v['b']}" for k, v in s["reasons"].items())
        lines.append(f"{mark} {s['stage']:<{w}}  {fmt('a'):>14} -> {fmt('b'):<14}{extra}"
                     + (f"  {reasons}" if reasons else ""))
    return "\n".join(lines) + "\n"
