"""The teacher of a distilled build: fine-tuned once, cached, and asked for soft labels.

The teacher (``all-mpnet-base-v2``, 110M parameters) is fine-tuned on the same labeled rows as
the student, with its own schedule (:class:`models.registry.TeacherConfig`). It is cached in
``<cache_dir>/teachers/<key>/`` (key: the teacher recipe and the training data), so rebuilding
the student with other hyper-parameters does not train the teacher again. Imports torch:
build-time only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models import bases, registry
from models import data as labeled
from models.registry import TrainConfig

log = logging.getLogger(__name__)

TEACHERS_DIR = "teachers"
TRAIN_JSON = "train.json"
BATCH = 64
LOGITS_FILE = "logits-{max_length}.npz"  # in the teacher's folder: its logits by text digest


def teacher_key(config: TrainConfig, data_dir: Path, member: int = 0) -> str:
    """Cache key of teacher ``member`` of ``config``: its recipe hash and the hash of the
    labeled files it learns from."""
    data = registry.data_hash(labeled.labeled_files(data_dir, config.name))
    return registry.build_key(registry.teacher_hash(config, member), data)


def ensure_teachers(
    cache_dir: Path,
    data_dir: Path,
    config: TrainConfig,
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    progress: bool = True,
) -> tuple[list[Path], dict]:
    """The folders of the teacher's members (fine-tuning those not cached) and the teacher's
    record for the model card: its base, each member's training statistics and the
    evaluation of their mean probabilities.

    ``texts``/``labels`` are the teacher's labeled rows (``training_rows`` of the teacher
    recipe). A killed run leaves no ``train.json`` and trains that member again on the next
    build.
    """
    assert config.teacher is not None
    seen = {labeled.text_key(t) for t in texts}
    members = [
        _ensure_member(cache_dir, data_dir, config, member, texts, labels, seen, progress)
        for member in range(config.teacher.members)
    ]
    folders = [folder for folder, _ in members]
    record = {
        "base": members[0][1]["base"],
        "members": [
            {**stats, "seed": config.teacher_recipe(member).seed}
            for member, (_, stats) in enumerate(members)
        ],
        "eval": members[0][1]["eval"] if len(folders) == 1 else evaluate(folders, data_dir, seen),
    }
    return folders, record


def _ensure_member(
    cache_dir: Path,
    data_dir: Path,
    config: TrainConfig,
    member: int,
    texts: Sequence[str],
    labels: Sequence[int],
    seen: set[str],
    progress: bool,
) -> tuple[Path, dict]:
    """One member's folder and training statistics, fine-tuning it when missing (and then
    evaluating it without the texts whose key is in ``seen``)."""
    from models import train

    recipe = config.teacher_recipe(member)
    folder = cache_dir / TEACHERS_DIR / teacher_key(config, data_dir, member)
    stats_file = folder / TRAIN_JSON
    if stats_file.is_file():
        log.info("teacher %d from the cache: %s", member, folder)
        return folder, json.loads(stats_file.read_text())
    base_model = bases.by_name(recipe.base)
    base = base_model.path(cache_dir)
    log.info(
        "fine-tuning teacher %d (%s, seed %d) on %d rows (cached afterwards)",
        member, recipe.base, recipe.seed, len(texts),
    )  # fmt: skip
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    stats = train.fine_tune(base, texts, labels, recipe, tmp, progress=progress)
    record = {
        **stats,
        "base": base_model.name,
        "eval": evaluate([tmp], data_dir, seen),
    }
    (tmp / TRAIN_JSON).write_text(json.dumps(record, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder, record


def evaluate(teacher_dirs: Sequence[Path], data_dir: Path, seen: set[str]) -> dict[str, dict]:
    """Accuracy and F1 of the teacher (torch, FP32; the mean probabilities of its members) on
    the evaluation sets without the texts whose key is in ``seen`` (its training rows), for the
    model card."""
    from features.cleaning import clean_text
    from models.evaluate import deduplicate, metrics

    out = {}
    for s in labeled.eval_sets(data_dir):
        s, _ = deduplicate(s, seen)
        texts = [clean_text(t) for t in s.texts]
        probs = mean_soft_labels(teacher_dirs, texts, 1.0, 128, progress=False)
        m = metrics(s.labels, probs)
        out[s.name] = {k: m[k] for k in ("rows", "accuracy", "f1_weighted", "f1_macro")}
        log.info("teacher on %s: %s", s.name, out[s.name])
    return out


def mean_soft_labels(
    teacher_dirs: Sequence[Path],
    texts: Sequence[str],
    temperature: float,
    max_length: int,
    *,
    progress: bool = True,
) -> np.ndarray:
    """The mean of the members' :func:`soft_labels`, shape (n, 3)."""
    return np.mean(
        [soft_labels(d, texts, temperature, max_length, progress=progress) for d in teacher_dirs],
        axis=0,
    ).astype(np.float32)


def soft_labels(
    teacher_dir: Path,
    texts: Sequence[str],
    temperature: float,
    max_length: int,
    *,
    progress: bool = True,
) -> np.ndarray:
    """The teacher's class probabilities at ``temperature`` for each text, shape (n, 3).

    The teacher's logits are kept in its folder (:data:`LOGITS_FILE`, by text and
    ``max_length``), so a rebuild of the student runs the teacher only on texts it has not read.
    """
    logits = _logits(teacher_dir, texts, max_length, progress) / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def _logits(teacher_dir: Path, texts: Sequence[str], max_length: int, progress: bool) -> np.ndarray:
    """The teacher's logits for each text, from its cache file where there, else computed (each
    distinct text once, batches grouped by length so padding stays small) and added to it."""
    cache_file = teacher_dir / LOGITS_FILE.format(max_length=max_length)
    known = _read_logits(cache_file)
    keys = [_digest(t) for t in texts]
    unread = {t: k for t, k in zip(texts, keys, strict=True) if k not in known}
    if unread:
        by_length = sorted(unread, key=len)
        computed = _run_teacher(teacher_dir, by_length, max_length, progress)
        new = {unread[t]: row for t, row in zip(by_length, computed, strict=True)}
        known = _add_logits(cache_file, new)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _read_logits(cache_file: Path) -> dict[str, np.ndarray]:
    """The kept logits by text digest; an unreadable file counts as empty (it is rewritten)."""
    if not cache_file.is_file():
        return {}
    try:
        with np.load(cache_file) as stored:
            return dict(zip(stored["keys"].tolist(), stored["logits"], strict=True))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("teacher logits in %s unreadable (%s): computing them again", cache_file, exc)
        return {}


def _add_logits(cache_file: Path, new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Merge ``new`` into the cache file and return all it holds. A lock beside the file keeps
    two builds sharing the teacher from losing each other's logits; the file is replaced whole."""
    with (cache_file.parent / ".logits.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = {**_read_logits(cache_file), **new}
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as out:
            np.savez(out, keys=np.array(list(known)), logits=np.stack(list(known.values())))
        Path(tmp).replace(cache_file)
    return known


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _run_teacher(
    teacher_dir: Path, texts: Sequence[str], max_length: int, progress: bool
) -> np.ndarray:
    """The teacher's logits for ``texts`` (sorted by length), batch by batch."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.runtime import cpu_threads

    torch.set_num_threads(cpu_threads())
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir).eval()
    out = []
    with (
        torch.no_grad(),
        tqdm(total=len(texts), desc="teacher", unit="text", disable=not progress) as bar,
    ):
        for start in range(0, len(texts), BATCH):
            part = list(texts[start : start + BATCH])
            enc = tokenizer(
                part, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            out.append(model(**enc).logits.numpy())
            bar.update(len(part))
    return np.concatenate(out)
