#!/usr/bin/env bash
# The checks that need a CUDA device, in one run: the CUDA tests, then the GPU benchmarks.
# Run from the repository root on a machine with a GPU and PyTorch installed, e.g.
#     DEEPBELIEF_DATA=/path/to/data bash benchmarks/gpu_checks.sh [OUT_DIR]
# (DEEPBELIEF_DATA holds mnist/*.gz). Without an installed deepbelief, src/ is used.
set -u
out=${1:-out/gpu}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
python3 -m pytest tests/test_cuda.py tests/test_cuda_graphs.py -q -p no:cacheprovider -rfP \
    2>&1 | tail -60
python3 benchmarks/gpu_limit.py --device cuda --json "$out/gpu_limit.json" 2>&1 | tail -40
for script in dbn_pretrain finetune; do
    python3 "benchmarks/$script.py" --device cuda --json "$out/$script.json" 2>&1 | tail -22
done
