#!/usr/bin/env bash
# README walk-through: runs every fast command the README documents, as written, in a fresh clone of
# this checkout (committed files only), and checks what the README says they print. ~1-2 min on a CPU.
#
#   bash docs/check_readme.sh            # uses .venv/bin/python of this checkout (make install)
#   PY=/path/to/python bash docs/check_readme.sh
#
# `.venv/bin/curate X` in the README is run as `$PY -m curate.app.cli X` from the clone's root, so the
# clone's code runs (an editable install's `curate` script would run the original checkout's code);
# `.venv/bin/python` is `$PY`. Commands skipped, and why, are listed at the end.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$HERE/.venv/bin/python}"
[ -x "$PY" ] || { echo "no python at $PY: run make install, or set PY" >&2; exit 2; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zhtune-readme.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
git clone -q "$HERE" "$WORK/zhtune"
cd "$WORK/zhtune"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_DATASETS_DISABLE_PROGRESS_BARS=1
curate() { "$PY" -m curate.app.cli "$@"; }
step() { printf '\n== %s\n' "$*" >&2; }
expect() {  # expect FILE PATTERN: the output holds what the README shows
  grep -qE -- "$2" "$1" || { echo "README check failed: output of the last step lacks /$2/:" >&2; cat "$1" >&2; exit 1; }
}
O="$WORK/out"

step "README: curate build recipes/demo.yaml"
curate build recipes/demo.yaml > "$O"
expect "$O" '^stage +in +kept rejected'
expect "$O" '^accounting: alpaca_zh 30 = '
expect "$O" '^version [0-9a-f]{12}: train [0-9]+, test [0-9]+, rejected [0-9]+$'
expect "$O" '^builds/demo/[0-9a-f]{12}$'

step "README: curate build recipes/demo.yaml --quiet (cache hit, prints only the folder)"
curate build recipes/demo.yaml --quiet > "$O"
[ "$(wc -l < "$O")" -eq 1 ] && expect "$O" '^builds/demo/[0-9a-f]{12}$'

step "README: python -m train.tiny .cache/models/tiny-qwen2 --data builds/demo"
"$PY" -m train.tiny .cache/models/tiny-qwen2 --data builds/demo > "$O"
expect "$O" 'tiny-qwen2$'

step "README: curate train recipes/train/tiny_lora.yaml"
curate train recipes/train/tiny_lora.yaml --threads 1 > "$O"
expect "$O" '^runs/tiny-lora/[0-9a-f]{12}$'

step "README: curate train --list-methods"
curate train --list-methods > "$O"
for m in lora dora rslora adalora ia3 loha lokr prefix prompt ptuning full sadapter_h sadapter_p padapter; do
  expect "$O" "^$m "
done

step "README: a typo'd training key is reported before torch is imported"
if curate train --data builds/demo --model smollm2-135m --set training.learing_rate=1e-4 2> "$O"; then exit 1; fi
expect "$O" 'did you mean learning_rate'

step "README: curate vocab builds/demo/<id> --model smollm2-135m --add 200 --min-count 2 --dry-run"
V=$(curate build recipes/demo.yaml --quiet)
curate vocab "$V" --model smollm2-135m --add 200 --min-count 2 --dry-run --threads 1 > "$O"
expect "$O" 'tokens/char'

step "docs/publish.md: V, W and curate diff \$V \$W"
sed 's/total: 60/total: 40/; s/cot_zh: 0.15, preference_zh: 0.2/cot_zh: 0.05, preference_zh: 0.3/' \
    recipes/demo.yaml > recipes/demo_40.yaml
W=$(curate build recipes/demo_40.yaml --quiet)
curate diff "$V" "$W" > "$O"
expect "$O" '~ mix.total: 60 -> 40'
expect "$O" '^records: '

step "README: curate export \$V --to llamafactory | axolotl | trl | jsonl"
for tool in llamafactory axolotl trl jsonl; do
  curate export "$V" --to "$tool" > "$O"
  expect "$O" "^exports/demo/[0-9a-f]{12}/$tool\$"
done
expect_abs() { grep -q "$WORK/zhtune/exports/" "$1" || { echo "snippet $1 lacks absolute paths" >&2; exit 1; }; }
expect_abs exports/demo/*/llamafactory/llamafactory_sft.yaml
expect_abs exports/demo/*/axolotl/axolotl_sft.yaml

step "README: curate publish \$V --repo your-name/zh-demo --dry-run"
curate publish "$V" --repo your-name/zh-demo --dry-run > "$O"
expect "$O" '^dry run: nothing uploaded; your-name/zh-demo would receive \(configs `demo-sft, demo-dpo`'
expect "$O" 'demo-sft/train-00000-of-00001.parquet'
"$PY" - "$(tail -n 1 "$O")" <<'PYEOF'
import sys
from datasets import load_dataset
sft = load_dataset(sys.argv[1], "demo-sft")["train"]
dpo = load_dataset(sys.argv[1], "demo-dpo")["train"]
assert "messages" in sft.column_names and {"prompt", "chosen", "rejected"} <= set(dpo.column_names)
PYEOF

SHARED="${ZHTUNE_SHARED_DATA:-$HERE/../shared/data}"
if [ -d "$SHARED" ]; then  # the study reads the real slices at ../shared/data, relative to the checkout
  mkdir -p "$WORK/shared" && ln -s "$(cd "$SHARED" && pwd)" "$WORK/shared/data"
  step "README: curate ablate recipes/ablations/data-types.yaml --budget 2h --dry-run"
  curate ablate recipes/ablations/data-types.yaml --budget 2h --dry-run > "$O"
  expect "$O" '^budget sizing: 176 records per variant, 34 steps'
  expect "$O" '^14 training runs over 6 distinct data versions'
  expect "$O" '^base +1 +99faa599f97f '  # the README's version ids (they change with the curation code)
else
  echo "skipped: curate ablate ... --dry-run (no ../shared/data next to the checkout)" >&2
fi

cat >&2 <<'SKIPPED'

== README check passed. Skipped (slow; run by hand or on a GPU):
  make demo / make test                          the CI runs `make test` itself; make demo = the first step above
  curate train recipes/train/smollm2_lora.yaml   SmolLM2-135M, ~16-60 s/step on a shared CPU (minutes)
  curate train recipes/train/gemma3_lora.yaml    Gemma-3-270M, minutes
  curate train recipes/train/smollm2_dpo.yaml    minutes
  curate train --data builds/demo --model smollm2-135m --method dora ...   20 SmolLM2 steps
  curate train recipes/train/smollm2_sadapter_h.yaml --threads 1           minutes
  curate vocab ... --pretrain-steps 20 / curate train ... --vocab-add 1000  pre-training, minutes
  curate eval --model smollm2-135m ... (all four lines)                    real model + ../shared/data slices
  curate ablate recipes/ablations/data-types.yaml --budget 2h --threads 1  14 runs, ~90 min on 2 idle cores
  curate ablate recipes/ablations/data-types.yaml                          the file's own sizes, hours on a CPU
  bash bench/gpu_study.sh                                                   needs a CUDA GPU
  curate publish without --dry-run                                          needs the network and a login
SKIPPED
