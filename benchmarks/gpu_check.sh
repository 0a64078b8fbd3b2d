#!/usr/bin/env bash
# One run on a lent GPU machine (the `device` tool): CUDA training and inference speed, and
# exact resume on CUDA. Needs the wheels its image lacks in .whl/ (see benchmarks/RESULTS.md).
# usage: bash benchmarks/gpu_check.sh   (writes its logs to $OUT, or ./gpu-out)
set -uo pipefail
out="${OUT:-gpu-out}"; mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" MGR_DESKTOP_HOME=/tmp/mgr-home PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -m benchmarks.train_speed --skip-cache --device cuda 2>&1 | tee "$out/train_speed.txt"
python3 -m benchmarks.default_model_speed --device cuda --tracks 20 2>&1 \
  | tee "$out/default_model_speed.txt"
python3 -m pytest -q -p no:cacheprovider -o addopts="" \
  tests/train/test_state.py -k "resume or cuda or state" -rs 2>&1 | tee "$out/resume_cuda.txt"
