#!/usr/bin/env bash
# GPU check, under 5 minutes on a machine with an NVIDIA GPU:
#   1. the served model starts on the TensorRT or CUDA provider (FP16 file), not the CPU;
#   2. its labels agree with the CPU models (FP32 and the served INT8) on Twitter valid;
#   3. throughput of the GPU model beside the transformers pipeline on the same GPU
#      (`finsent bench model --provider cuda`), printed as JSON.
# Needs the package installed (make install) and a built model (cache or FINSENT_MODEL_PATH).
# Exit status 0 only when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export FINSENT_DATA=${FINSENT_DATA:-$(cd .. && pwd)/shared/data}
MIN_AGREEMENT=${MIN_AGREEMENT:-0.98}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

timeout 120 "$PY" - "$MIN_AGREEMENT" <<'PYCODE'
import json, sys, time
import numpy as np
from models import Classifier
from models.data import twitter_valid
from models.registry import recipe, resolve_model_dir
from streams.settings import load_settings
import onnxruntime as ort

min_agree = float(sys.argv[1])
s = load_settings()
folder = resolve_model_dir(s.model.cache_dir, s.model.path, s.data_dir, recipe(s.model.name))
texts = list(twitter_valid(s.data_dir).texts)[:1000]
gpu = Classifier(folder, "cuda")  # raises with the reason when the GPU is not usable
labels = {"gpu": [p.label for p in gpu.predict(texts)]}
for variant in ("fp32", "int8"):
    labels[variant] = [p.label for p in Classifier(folder, "cpu", variant=variant).predict(texts)]
agree = {v: float(np.mean([a == b for a, b in zip(labels["gpu"], labels[v])])) for v in ("fp32", "int8")}
gpu.clear_cache()
for batch in (64, 256):
    gpu.batch_size = batch
    gpu.predict(texts)  # warm-up (TensorRT builds its engine here, once, cached)
    gpu.clear_cache()
    t = time.perf_counter(); gpu.predict(texts); rate = len(texts) / (time.perf_counter() - t)
    gpu.clear_cache()
    print(json.dumps({"batch_size": batch, "gpu_docs_per_s": round(rate, 1)}))
report = {
    "available_providers": ort.get_available_providers(),
    "provider": gpu.provider,
    "file": gpu.model_file.name,
    "label_agreement_on_1000_twitter_valid": agree,
}
print(json.dumps(report, indent=2))
ok = gpu.provider in ("TensorrtExecutionProvider", "CUDAExecutionProvider") and agree["fp32"] >= min_agree
sys.exit(0 if ok else 1)
PYCODE

timeout 150 "$PY" -m streams bench model --provider cuda --repeats 2 --json
echo "gpu check passed"
