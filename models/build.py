"""The cached model build: fine-tune, export, validate, quantize, evaluate, write the card.

Output: ``<cache_dir>/<build_key>/``. The build works in ``<cache_dir>/.tmp-<build_key>/`` and
renames it into place at the end, so a killed build never looks complete; a rerun after a kill
resumes from finished training (``torch/`` with ``train.json``) instead of training again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import math
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models import bases, registry
from models import data as labeled
from models.registry import TrainConfig

if TYPE_CHECKING:
    from models.train import Rows

log = logging.getLogger(__name__)

VALIDATION_TEXTS = 512  # Twitter-valid texts used for the torch-vs-ONNX check
AGREEMENT_TEXTS = 1000  # texts used for the INT8/FP16-vs-FP32 label agreement


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    key: str
    built: bool  # False: the cache already held it


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_key(data_dir: Path, config: TrainConfig | None = None) -> tuple[str, str, str]:
    """(build_key, recipe_hash, data_hash) for the given data and hyper-parameters."""
    config = config or TrainConfig()
    recipe = registry.recipe_hash(config)
    data = registry.data_hash(labeled.training_files(data_dir, config.name))
    return registry.build_key(recipe, data), recipe, data


def build(
    cache_dir: Path,
    data_dir: Path,
    config: TrainConfig | None = None,
    *,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build the model for ``config`` from the data under ``data_dir`` unless cached."""
    config = config or TrainConfig()
    key, recipe, data_digest = current_key(data_dir, config)
    final = cache_dir / key
    with _lock(cache_dir / f".{key}.lock"):
        if registry.is_complete(final) and not force:
            return BuildResult(final, key, built=False)
        tmp = cache_dir / f".tmp-{key}"
        if force and tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        served_eval = _build_into(
            tmp, key, recipe, data_digest, cache_dir, data_dir, config, progress
        )
        if final.exists():
            old = cache_dir / f".old-{key}-{os.getpid()}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
        from models.evaluate import save_eval

        save_eval(final, {**served_eval, "model_dir": str(final)})
        log.info("model built: %s", final)
        return BuildResult(final, key, built=True)


def _build_into(
    tmp: Path,
    key: str,
    recipe: str,
    data_digest: str,
    cache_dir: Path,
    data_dir: Path,
    config: TrainConfig,
    progress: bool,
) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from models import export, train
    from models.calibrate import fit_temperature
    from models.card import write_card
    from models.runtime import Classifier

    base_model = bases.by_name(config.base)
    base = base_model.path(cache_dir)
    sets = labeled.training_sets(data_dir, config.name)
    rows = train.training_rows(sets, config)
    torch_dir = tmp / registry.TORCH_DIR
    stats, teacher = _train(tmp, torch_dir, base, cache_dir, data_dir, config, sets, rows, progress)

    # tokenizer beside the ONNX files (tokenizer.json is what the runtime reads)
    for name in bases.TOKENIZER_FILES:
        src = torch_dir / name if (torch_dir / name).is_file() else base / name
        if src.is_file():
            shutil.copy2(src, tmp / name)

    fp32 = tmp / registry.FP32_ONNX
    int8 = tmp / registry.INT8_ONNX
    fp16 = tmp / registry.FP16_ONNX
    export.export_onnx(torch_dir, fp32)
    valid = labeled.twitter_valid(data_dir)
    validation = export.validate(torch_dir, fp32, tmp, valid.texts[:VALIDATION_TEXTS])
    fused_ops = export.quantize_int8(fp32, int8, torch_dir)
    export.export_fp16(fp32, fp16, torch_dir)

    # label agreement with FP32 and a temperature per file, on the calibration hold-out
    texts = list(valid.texts[:AGREEMENT_TEXTS])
    logits = {}
    calibration = {}
    for name in (registry.FP32_ONNX, registry.INT8_ONNX, registry.FP16_ONNX):
        clf = Classifier(tmp, "cpu", variant=_VARIANT_OF[name], temperature=1.0)
        logits[name] = clf.text_logits(texts)
        calibration[name] = fit_temperature(clf.text_logits(rows.calib_texts), rows.calib_labels)
    ref = logits[registry.FP32_ONNX].argmax(1)
    agreement = {
        name: {"texts": len(texts), "agreement": float((ref == lg.argmax(1)).mean())}
        for name, lg in logits.items()
        if name != registry.FP32_ONNX
    }

    (tmp / registry.BUILD_JSON).write_text(
        json.dumps(
            {
                "build_key": key,
                "name": config.name,
                "build_format": registry.BUILD_FORMAT,
                "recipe_hash": recipe,
                "data_hash": data_digest,
                "hyperparameters": asdict(config),
                "training_files": [str(p) for p in labeled.training_files(data_dir, config.name)],
            },
            indent=2,
        )
    )
    from transformers import AutoConfig

    n_params = _count_params(torch_dir)
    cfg = AutoConfig.from_pretrained(torch_dir)
    card = {
        "name": f"finsent-sentiment-{config.name}",
        "model_name": config.name,
        "version": registry.short_version(int8),
        "versions": {"cpu": registry.short_version(int8), "cuda": registry.short_version(fp16)},
        "files": {"cpu": registry.INT8_ONNX, "cuda": registry.FP16_ONNX},
        "labels": list(labeled.LABELS),
        "max_tokens": 128,
        "temperature": {name: c["temperature"] for name, c in calibration.items()},
        "teacher": teacher or None,
        "base_model": {
            "name": base_model.name,
            "packages": list(base_model.distributions),
            "parameters": n_params,
            "hidden_size": cfg.hidden_size,
            "layers": cfg.num_hidden_layers,
        },
        "build_key": key,
        "build_format": registry.BUILD_FORMAT,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training_data": [
            {
                "name": s.name,
                "licence": s.licence,
                "rows": len(s),
                "label_counts": s.label_counts(),
                "file": str(s.files[0].relative_to(data_dir)),
                "note": s.note,
            }
            for s in sets
        ],
        "rows": {
            "fit": len(rows.fit_texts),
            "calibration": len(rows.calib_texts),
            "unique_keys": len(rows.keys()),
        },
        "hyperparameters": asdict(config),
        "training": stats,
        "calibration": calibration,
        "export": {
            "opset": export.SPEC.opset,
            "inputs": list(export.SPEC.inputs),
            "outputs": list(export.SPEC.outputs),
            "validation": validation,
            "agreement_with_fp32": agreement,
            "fused_operators": fused_ops,
            "quantization": "fused graph, onnxruntime dynamic, per-channel QInt8 weights",
            "fp16": "fused graph, FP16 weights and compute, FP32 inputs/outputs",
        },
    }
    write_card(tmp, card)
    from models.evaluate import evaluate_folder

    served_eval = evaluate_folder(tmp, data_dir, variant="int8")
    card["metrics"] = {
        registry.INT8_ONNX: served_eval["sets"],
        registry.FP32_ONNX: evaluate_folder(tmp, data_dir, variant="fp32")["sets"],
    }
    write_card(tmp, card)
    return served_eval


def _train(
    tmp: Path,
    torch_dir: Path,
    base: Path,
    cache_dir: Path,
    data_dir: Path,
    config: TrainConfig,
    sets: list[labeled.LabeledSet],
    rows: Rows,
    progress: bool,
) -> tuple[dict, dict]:
    """Train the model into ``torch_dir`` and write the keys of every text trained on. With a
    teacher in the recipe, the student also learns from its soft labels, on the labeled rows and
    on unlabeled ones (filing and news sentences, noisy copies of the labeled texts). Returns
    (training stats, teacher record).

    Training already finished by a killed build (``train.json`` there) is reused.
    """
    from models import augment, distill, train

    texts, labels, keys = list(rows.fit_texts), list(rows.fit_labels), rows.keys()
    teacher: dict = {}
    if config.teacher is not None:
        t_rows = train.training_rows(sets, config.teacher_recipe())
        teacher_dirs, teacher = distill.ensure_teachers(
            cache_dir, data_dir, config, t_rows.fit_texts, t_rows.fit_labels, progress=progress
        )
        by_source = {
            **labeled.transfer_sentences(data_dir, config),
            "noisy copies of labeled texts": augment.noisy_copies(
                rows.fit_texts, config.noisy_copies, config.seed
            ),
        }
        teacher["unlabeled"] = {source: len(t) for source, t in by_source.items()}
        unlabeled = [text for t in by_source.values() for text in t]
        texts += unlabeled
        labels += [-1] * len(unlabeled)
        keys = sorted({*keys, *map(labeled.text_key, unlabeled)})
    (tmp / registry.TRAINING_KEYS).write_text("\n".join(keys) + "\n")
    train_json = torch_dir / "train.json"
    if train_json.is_file():
        log.info("resuming: training already finished in %s", torch_dir)
        return json.loads(train_json.read_text()), teacher
    soft = None
    if config.teacher is not None:
        soft = distill.mean_soft_labels(
            teacher_dirs, texts, config.distill_temperature, config.max_length, progress=progress
        )
    stats = train.fine_tune(base, texts, labels, config, torch_dir, soft=soft, progress=progress)
    train_json.write_text(json.dumps(stats, indent=2))
    return stats, teacher


_VARIANT_OF = {registry.FP32_ONNX: "fp32", registry.INT8_ONNX: "int8", registry.FP16_ONNX: "fp16"}


def _count_params(torch_dir: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(torch_dir / "model.safetensors"), "np") as fh:
        for name in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
            total += math.prod(fh.get_slice(name).get_shape())
    return total


def ensure_model(settings, data_dir: Path, *, progress: bool = True) -> Path:
    """The served model's folder, building it first when the cache lacks it.

    ``settings`` is a :class:`streams.settings.ModelSettings` (``settings.name`` picks the
    named recipe); an explicit ``settings.path`` is returned as is (after a completeness check).
    """
    if settings.path is not None:
        return registry.resolve_model_dir(settings.cache_dir, explicit=settings.path)
    config = registry.recipe(getattr(settings, "name", "default"))
    return build(settings.cache_dir, data_dir, config, progress=progress).folder
