"""Distillation: base-model packages, the transfer set, a student learning from soft labels."""

from __future__ import annotations

import io
import zipfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from models import bases
from models.augment import noisy_copies
from models.data import (
    TRANSFER_WORDS,
    finentity_paragraphs,
    text_key,
    transfer_sentences,
)
from models.distill import LOGITS_FILE, mean_soft_labels, soft_labels
from models.registry import TEACHER_FIELDS, TeacherConfig, TrainConfig, recipe, recipe_hash
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
    key = teacher_key(student, data_dir)
    for change in (
        {"distill_weight": 0.8},
        {"distill_temperature": 3.0},
        {"transfer_sentences": 10},
        {"noisy_copies": 3},
        {"epochs": 5, "learning_rate": 5e-5, "news_repeat": 3},  # the teacher has its own
        {"teacher": replace(student.teacher, members=3)},  # more members keep the first one
    ):
        assert teacher_key(replace(student, **change), data_dir) == key, change
    second = teacher_key(student, data_dir, member=1)
    assert second != key  # a member of its own, trained with the next seed
    assert second == teacher_key(replace(student, seed=student.seed + 1), data_dir)
    slower = replace(student, teacher=replace(student.teacher, epochs=3))
    assert teacher_key(slower, data_dir) != key
    assert teacher_key(replace(student, seed=14), data_dir) != key  # the rows' split and order
    assert teacher_key(recipe("research"), data_dir) != key  # PhraseBank rows too


def test_every_recipe_field_is_a_teacher_field_or_a_student_one() -> None:
    """A new TrainConfig field must be sorted: does the teacher's training read it?"""
    student_only = {"teacher", "distill_weight", "distill_temperature", "transfer_sentences"}
    student_only |= {"mdna_sentences", "finentity_sentences", "noisy_copies"}
    names = {f.name for f in fields(TrainConfig)}
    assert names == set(TEACHER_FIELDS) | student_only
    assert not set(TEACHER_FIELDS) & student_only


def test_noisy_copies_are_stable_and_keep_to_the_training_vocabulary() -> None:
    texts = [
        "$AAPL - Apple shares rise after strong iPhone sales in China",
        "$TSLA - Tesla recalls 2 million cars over autopilot concerns",
        "Oil falls as OPEC output rises",
    ] * 2
    first = noisy_copies(texts, 4, seed=13)
    assert first == noisy_copies(texts, 4, seed=13)
    assert first != noisy_copies(texts, 4, seed=14)
    assert 0 < len(first) <= 3 * 4 and not set(first) & set(texts)
    vocabulary = {w for t in texts for w in t.split()}
    assert all(set(c.split()) <= vocabulary for c in first)
    cashtags = [w for c in first for w in c.split() if w.startswith("$")]
    assert set(cashtags) <= {"$AAPL", "$TSLA"} and len(set(cashtags)) == 2


def _transfer(
    data_dir: Path, eight_k: int, mdna: int, news: bool, seed: int
) -> dict[str, tuple[str, ...]]:
    config = TrainConfig(
        transfer_sentences=eight_k, mdna_sentences=mdna, finentity_sentences=news, seed=seed
    )
    return transfer_sentences(data_dir, config)


def _eight_k(data_dir: Path, n: int, seed: int) -> tuple[str, ...]:
    return _transfer(data_dir, n, 0, False, seed)["8-K sentences"]


def test_transfer_sentences_are_real_unique_and_stable(data_dir: Path) -> None:
    first = _eight_k(data_dir, 300, seed=13)
    assert first == _eight_k(data_dir, 300, seed=13)
    assert first != _eight_k(data_dir, 300, seed=14)
    assert len(first) == 300 and len({text_key(t) for t in first}) == 300
    low, high = TRANSFER_WORDS
    assert all(low <= len(t.split()) <= high for t in first)
    raw = (data_dir / "streams/filings/sec_8k_items.jsonl").read_text(encoding="utf-8")
    assert sum(t[:40] in raw for t in first) > 250  # cleaning changes a few quotes and spaces

    mixed = _transfer(data_dir, 300, 200, True, seed=13)
    assert list(mixed) == ["8-K sentences", "10-K MD&A sentences", "FinEntity sentences"]
    everything = [t for texts in mixed.values() for t in texts]
    assert mixed["8-K sentences"] == first
    assert len({text_key(t) for t in everything}) == len(everything)
    mdna, news = mixed["10-K MD&A sentences"], mixed["FinEntity sentences"]
    assert len(mdna) == 200
    raw_10k = (data_dir / "streams/filings/sec_10k_items.jsonl").read_text(encoding="utf-8")
    assert sum(t[:40] in raw_10k for t in mdna) > 160
    paragraphs = " ".join(finentity_paragraphs(data_dir).texts)
    assert len(news) > 800 and sum(t[:40] in paragraphs for t in news) > 0.8 * len(news)


def test_class_weights_ignore_rows_without_gold() -> None:
    assert class_weights([0, 1, 2, -1, -1], 1.0) == class_weights([0, 1, 2], 1.0)


def test_rows_without_gold_need_a_teacher(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="teacher probabilities"):
        fine_tune(bases.MINILM.path(tmp_path), ["a"], [-1], TrainConfig(), tmp_path, progress=False)


@pytest.fixture(scope="module")
def positive_student(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real MiniLM trained on rows with no gold label and a 'positive' teacher only:
    (its folder, its texts, its training stats)."""
    texts = list(_eight_k(data_dir, 48, seed=5))
    soft = np.tile(np.array([[0.02, 0.08, 0.90]], dtype=np.float32), (len(texts), 1))
    config = TrainConfig(
        epochs=2, batch_size=8, learning_rate=3e-4, distill_weight=1.0, distill_temperature=1.0
    )
    out = tmp_path_factory.mktemp("student")
    stats = fine_tune(
        bases.MINILM.path(out),
        texts,
        [-1] * len(texts),
        config,
        out,
        soft=soft,
        progress=False,
    )
    return out, texts, stats


def test_student_follows_soft_labels_alone(positive_student) -> None:
    out, texts, stats = positive_student
    assert stats["distilled"] is True
    probs = soft_labels(out, texts, 1.0, 128, progress=False)
    assert probs.shape == (len(texts), 3)
    assert (probs.argmax(1) == 2).mean() > 0.9


def test_teacher_logits_are_kept_and_read_back(data_dir: Path, positive_student) -> None:
    out, texts, _ = positive_student
    cold = soft_labels(out, texts, 1.0, 64, progress=False)
    cache_file = out / LOGITS_FILE.format(max_length=64)
    with np.load(cache_file) as stored:
        keys, logits = stored["keys"], stored["logits"]
    assert len(keys) == len(set(texts)) and logits.shape == (len(keys), 3)
    # Read back, not recomputed: negated logits in the file turn every answer around, also when
    # new texts come with them (only those are computed, and added to the file).
    np.savez(cache_file, keys=keys, logits=-logits)
    more = [t for t in _eight_k(data_dir, 80, seed=6) if t not in texts][:8]
    mixed = soft_labels(out, texts + more, 1.0, 64, progress=False)
    assert (mixed[: len(texts)].argmax(1) == 2).mean() < 0.1
    assert (mixed[len(texts) :].argmax(1) == 2).mean() > 0.5
    with np.load(cache_file) as stored:
        assert len(stored["keys"]) == len(keys) + len(more)
    cache_file.write_bytes(b"not an npz file")  # a broken file is computed again
    warm = soft_labels(out, texts, 1.0, 64, progress=False)
    np.testing.assert_allclose(warm, cold, atol=1e-6)
    softer = soft_labels(out, texts, 2.0, 64, progress=False)
    assert (softer.max(axis=1) < warm.max(axis=1)).all()


def test_teacher_members_are_trained_once_each_and_averaged(data_dir: Path, tmp_path: Path) -> None:
    """Two small members (MiniLM stands in for mpnet to keep the test short): each is trained
    with its own seed and cached; the record evaluates their mean."""
    from dataclasses import asdict

    from models.card import render_teacher
    from models.distill import ensure_teachers

    config = TrainConfig(
        batch_size=8,
        teacher=TeacherConfig(base="all-MiniLM-L6-v2", epochs=1, members=2),
    )
    texts = list(_eight_k(data_dir, 24, seed=3))
    labels = [i % 3 for i in range(len(texts))]
    folders, record = ensure_teachers(tmp_path, data_dir, config, texts, labels, progress=False)
    assert len(set(folders)) == 2 and all((f / "train.json").is_file() for f in folders)
    assert [m["seed"] for m in record["members"]] == [config.seed, config.seed + 1]
    first = soft_labels(folders[0], texts, 1.0, 128, progress=False)
    second = soft_labels(folders[1], texts, 1.0, 128, progress=False)
    assert not np.allclose(first, second)
    mean = mean_soft_labels(folders, texts, 1.0, 128, progress=False)
    np.testing.assert_allclose(mean, (first + second) / 2, atol=1e-6)
    assert set(record["eval"]) == {
        "twitter_financial_news_valid",
        "financial_phrasebank_allagree",
        "fingpt_fpb_test",
    }
    again = ensure_teachers(tmp_path, data_dir, config, texts, labels, progress=False)
    assert again == (folders, record)  # from the cache
    counts = {"8-K sentences": 5547, "FinEntity sentences": 0, "noisy copies": 24}
    line = render_teacher({**record, "unlabeled": counts}, asdict(config))
    assert "2 times (seeds 13, 14" in line and "probabilities averaged" in line
    assert line.endswith("teacher's labels only, 5,547 8-K sentences and 24 noisy copies")
    line = render_teacher({**record, "unlabeled": {"noisy copies": 0}}, asdict(config))
    assert line.endswith("teacher's labels only, no unlabeled texts")


def test_a_teacher_has_at_least_one_member() -> None:
    with pytest.raises(FinsentError, match="at least one member"):
        TeacherConfig(members=0)
