#!/usr/bin/env bash
# GPU check of the paper's 0.5B pair (benchmarks/gpu_check.py; docs/gpu-check.md): Table 2's cell,
# pretraining tokens/s and MFU, the bidirectionality probe, and a summary block for the README.
#
#   bash benchmarks/gpu_check.sh                    # one GPU, a few minutes
#   GPU_CHECK_TINY=1 bash benchmarks/gpu_check.sh   # the same code at a tiny size, on a CPU, seconds
#
# It uses the Python environment it finds (PYTHON, else python3, else python) plus this checkout's
# src/ and any pure-Python wheel in benchmarks/wheels/ (benchmarks/gpu_wheels.txt), imported from the
# wheel file itself: nothing is installed. With $OUT set (the lent machine's output folder) or
# GPU_CHECK_JSON, the figures are also written as JSON.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$(command -v python3 || command -v python)}"

path="$repo/src"
for wheel in "$repo"/benchmarks/wheels/*.whl; do
    [[ -e "$wheel" ]] && path="$path:$wheel"
done
export PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}"
# No hub (nothing may come from it), no tokenizer threads racing the data loader's fork, and no
# progress bars from the models' saves and loads (the profiling workers' included).
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
json="${GPU_CHECK_JSON:-${OUT:+$OUT/gpu_check.json}}"
args=()
[[ -n "${GPU_CHECK_TINY:-}" ]] && args+=(--tiny)
[[ -n "$json" ]] && args+=(--json "$json")
exec "$python" "$repo/benchmarks/gpu_check.py" "${args[@]}"
