"""Result folders ``evals/<model>/<task>/<eval id>/``: the id rule, the cache, the three files.

The eval id is the content address of everything that determines the numbers: the model
(base spec or weights digest, adapter hash), the task file's sha256 and overrides, method,
shots, CoT, the items scored (their content), and the zhtune version. Batch size is recorded
but not part of the id. Same id => the finished folder is reused.
"""

from __future__ import annotations

import json
from pathlib import Path

from curate.core.hashing import sha256_file, short_id

RESULTS = "results.json"
PREDICTIONS = "predictions.jsonl"
TABLE = "table.md"


def model_identity(model: str | dict) -> dict:
    """What names the weights, read without loading them: a run's record, or the base spec."""
    from train.models import SHORTHANDS, ModelSpec
    from train.runs import dir_digest, read_run

    if isinstance(model, str):
        run = read_run(model)
        if run is not None:
            return {"kind": "run", "run_dir": run["dir"], "run_id": run["run_id"], "base_model": run["model"],
                    "adapter_sha256": run.get("adapter_sha256"), "method": run["method"]["name"],
                    "version_id": (run.get("data") or {}).get("version_id"),
                    "slug": f"{Path(run['dir']).parent.name}-{run['run_id']}"}
        model = {"path": model}
    spec = ModelSpec(**model)
    ident: dict = {"kind": "base", "base_model": spec.model_dump(), "adapter_sha256": None, "run_id": None,
                   "version_id": None}
    p = Path(spec.path)
    if spec.path in SHORTHANDS:  # the weights ship in a package: its version names them
        from importlib import metadata

        try:
            ident["package_version"] = metadata.version(SHORTHANDS[spec.path]["package"])
        except metadata.PackageNotFoundError:
            ident["package_version"] = None
    elif p.is_dir():
        ident["weights_sha256"] = dir_digest(p)
    elif p.is_file():
        ident["weights_sha256"] = sha256_file(p)
    ident["slug"] = spec.short_name()
    return ident


def compute_eval_id(identity: dict, task_sha256: str, settings: dict, items_sha256: str) -> str:
    from curate import __version__

    model_key = {k: v for k, v in identity.items() if k not in ("run_dir", "slug")}
    return short_id({"model": model_key, "task": task_sha256, "settings": settings, "items": items_sha256,
                     "zhtune": __version__})


def result_dir(output_dir: str | Path, slug: str, task_name: str, eval_id: str) -> Path:
    return Path(output_dir) / slug / task_name / eval_id


def load_cached(path: Path) -> dict | None:
    f = path / RESULTS
    if not f.exists():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # a damaged cache entry is recomputed


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _class_block(title: str, block: dict, fmt, columns: list[tuple[str, str]]) -> list[str]:
    """A per-class table and its macro average; columns are (header, key), the average is `<key>_macro`."""
    lines = ["", title, "", "| class | scored | unscored | " + " | ".join(h for h, _ in columns) + " |",
             "|---|---:|---:|" + "---:|" * len(columns)]
    for c, v in block["per_class"].items():
        lines.append(f"| {c} | {v['n']} | {v['n_unscored']} | " + " | ".join(fmt(v[k]) for _, k in columns) + " |")
    lines.append(f"| **average (macro)** | {block['n_scored']} | | "
                 + " | ".join(f"**{fmt(block[k + '_macro'])}**" for _, k in columns) + " |")
    return lines


def markdown_table(results: dict) -> str:
    """The short human summary: per category (or class) and the averages."""
    s = results["scores"]
    st = results["settings"]
    what = ", ".join(f"{k}={st[k]}" for k in ("method", "shots", "cot", "scorers") if st.get(k) is not None)
    head = f"**{results['task']['name']}** · {results['model']['slug']} · {what}\n\n"
    if results["task"]["kind"] == "multiple_choice":
        rows = ["| category | subjects | items | acc (weighted) | acc (macro) |", "|---|---:|---:|---:|---:|"]
        for c, v in s["categories"].items():
            rows.append(f"| {c} | {v['n_subjects']} | {v['n']} | {_pct(v['acc_weighted'])} | {_pct(v['acc_macro'])} |")
        rows.append(f"| **all** | {len(s['subjects'])} | {s['n_scored']} | **{_pct(s['acc_weighted'])}** | "
                    f"**{_pct(s['acc_macro'])}** |")
        tail = f"\nunscored: {s['n_unscored']} {s['unscored_reasons'] or ''}; unparsed generations: " \
               f"{s['n_unparsed_generations']}\n"
        return head + "\n".join(rows) + "\n" + tail
    out = [head.rstrip("\n")]
    if "offline" in s:
        out += _class_block("offline (ROUGE-L F1 vs std_answer; not a judge score)", s["offline"], _pct,
                            [("ROUGE-L char", "rougeL_char_f"), ("ROUGE-L word", "rougeL_word_f")])
    if "ref_loglik" in s:
        r = s["ref_loglik"]
        out += _class_block("ref_loglik (negative log-likelihood of the reference given the prompt; lower is better)",
                            r, _num, [("nats/token", "nll_token"), ("nats/char", "nll_char")])
        out.append(f"\nunscored: {r['unscored_reasons'] or 'none'}; references cut to their first tokens: "
                   f"{r['truncated_references']}; prompts cut on the left: {r['truncated_prompts']}")
    if "judge" in s:
        j = s["judge"]
        out += _class_block(f"judge ({results.get('judge', {}).get('model')})", j, _pct, [("score", "score")])
        out.append(f"\njudge unscored: {j['unscored_reasons'] or 'none'}")
    return "\n".join(out) + "\n"


def write_result(path: Path, results: dict, predictions: list[dict]) -> None:
    """Write the three files into a temp folder, then rename: a folder is complete or absent."""
    from curate.core.version import atomic_dir

    with atomic_dir(path, replace=True) as tmp:
        (tmp / PREDICTIONS).write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions),
                                       encoding="utf-8")
        (tmp / TABLE).write_text(markdown_table(results), encoding="utf-8")
        (tmp / RESULTS).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
