#!/usr/bin/env bash
# The checks to run where torch sees a GPU (CI and the development machine have none), in one go:
#   - the tests that exercise CUDA there: the adjoint's CUDA cases, and every worker test, whose
#     workers train on CUDA by default (device auto) and whose API serves their checkpoints on the
#     CPU; some run `odecast worker`, so forked work horses initialise CUDA themselves;
#   - bench/training.py on CUDA (ours against torchdiffeq on the GPU);
#   - bench/devices.py (the default model's epochs on the CPU and on CUDA, and the ratio; then
#     with batches of 160 series, where CUDA wins).
# Logs go to $OUT (or /tmp/gpu-checks). Run from the repository root with the project installed:
#   PYTHON=.venv/bin/python bench/gpu_checks.sh
set -uo pipefail
out=${OUT:-/tmp/gpu-checks}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0

nvidia-smi -L || status=1
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

"$python" -m pytest -q -p no:cacheprovider --durations=10 -k "not s3" \
    tests/models/ode tests/worker tests/service/test_service_flow.py \
    tests/service/test_long_series.py 2>&1 | tee "$out/pytest.log" || status=1
"$python" bench/training.py --device cuda --threads 8 2>&1 | tee "$out/training.log" || status=1
"$python" bench/devices.py --threads 1 2>&1 | tee "$out/devices.log" || status=1
# Where a GPU pays: the whole training set in one batch (docs/benchmarks.md, "Devices").
"$python" bench/devices.py --threads 1 --epochs 3 --data spirals_200x100 --batch-size 160 2>&1 |
    tee -a "$out/devices.log" || status=1
exit $status
