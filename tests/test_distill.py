"""Distillation: base-model packages, the transfer set, a student learning from soft labels."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models import bases
from models.data import TRANSFER_WORDS, text_key, training_files, transfer_sentences
from models.registry import TrainConfig, data_hash, recipe, recipe_hash
from models.train import class_weights, fine_tune
from streams.errors import FinsentError


def test_base_fingerprints_come_from_the_packages() -> None:
    minilm = bases.MINILM.fingerprint()
    assert len(minilm) == 64 and int(minilm, 16) >= 0  # a sha256 hex digest
    assert minilm != bases.MPNET.fingerprint()
    assert (bases.MINILM.path(Path("/nonexistent")) / "model.safetensors").is_file()
    with pytest.raises(FinsentError, match="unknown base model"):
        bases.by_name("bert-large")


def test_teacher_parts_join_into_the_model_archive() -> None:
    joined = io.BytesIO()
    for part in bases.MPNET.parts():
        joined.write(part.read_bytes())
    names = zipfile.ZipFile(joined).namelist()
    assert all(f"all-mpnet-base-v2/{name}" in names for name in bases.HF_FILES)


def test_teacher_recipe_keeps_rows_and_changes_schedule() -> None:
    student = recipe("default")
    teacher = student.teacher_recipe()
    assert student.teacher is not None
    assert teacher.base == "all-mpnet-base-v2" and teacher.teacher is None
    assert teacher.epochs == student.teacher.epochs
    assert (teacher.seed, teacher.max_length) == (student.seed, student.max_length)
    assert recipe_hash(student) != recipe_hash(teacher)
    assert recipe_hash(student) != recipe_hash(replace(student, distill_weight=0.7))


def test_student_only_settings_keep_the_teacher(data_dir: Path) -> None:
    """Changing how the student learns must not train the teacher again."""
    from models.distill import teacher_key

    student = recipe("default")
    digest = data_hash(training_files(data_dir, "default"))
    key = teacher_key(student, digest)
    for change in (
        {"distill_weight": 0.8},
        {"distill_temperature": 3.0},
        {"transfer_sentences": 10},
    ):
        assert teacher_key(replace(student, **change), digest) == key, change
    slower = replace(student, teacher=replace(student.teacher, epochs=3))
    assert teacher_key(slower, digest) != key
    assert teacher_key(student, "other data") != key


def test_transfer_sentences_are_real_unique_and_stable(data_dir: Path) -> None:
    first = transfer_sentences(data_dir, 300, seed=13)
    assert first == transfer_sentences(data_dir, 300, seed=13)
    assert first != transfer_sentences(data_dir, 300, seed=14)
    assert len(first) == 300 and len({text_key(t) for t in first}) == 300
    low, high = TRANSFER_WORDS
    assert all(low <= len(t.split()) <= high for t in first)
    raw = (data_dir / "streams/filings/sec_8k_items.jsonl").read_text(encoding="utf-8")
    assert sum(t[:40] in raw for t in first) > 250  # cleaning changes a few quotes and spaces


def test_class_weights_ignore_rows_without_gold() -> None:
    assert class_weights([0, 1, 2, -1, -1], 1.0) == class_weights([0, 1, 2], 1.0)


def test_rows_without_gold_need_a_teacher(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="teacher probabilities"):
        fine_tune(bases.MINILM.path(tmp_path), ["a"], [-1], TrainConfig(), tmp_path, progress=False)


def test_student_follows_soft_labels_alone(data_dir: Path, tmp_path: Path) -> None:
    """Rows with no gold label and a 'positive' teacher: the real MiniLM learns to say positive."""
    from models.distill import soft_labels

    texts = list(transfer_sentences(data_dir, 48, seed=5))
    soft = np.tile(np.array([[0.02, 0.08, 0.90]], dtype=np.float32), (len(texts), 1))
    config = TrainConfig(
        epochs=2, batch_size=8, learning_rate=3e-4, distill_weight=1.0, distill_temperature=1.0
    )
    out = tmp_path / "student"
    stats = fine_tune(
        bases.MINILM.path(tmp_path),
        texts,
        [-1] * len(texts),
        config,
        out,
        soft=soft,
        progress=False,
    )
    assert stats["distilled"] is True
    probs = soft_labels(out, texts, 1.0, 128, progress=False)
    assert probs.shape == (len(texts), 3)
    assert (probs.argmax(1) == 2).mean() > 0.9
