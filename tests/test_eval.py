"""The evaluation pipeline on real data: split, deduplication, metrics, calibration error,
plots, and `finsent model eval --json` end to end on the served model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from models import Classifier
from models.data import (
    fingpt_fpb_split,
    phrasebank_50agree,
    phrasebank_allagree,
    text_key,
    twitter_train,
    twitter_valid,
)
from models.evaluate import (
    ANCHORS,
    deduplicate,
    evaluate_classifier,
    expected_calibration_error,
    metrics,
    save_plots,
    training_keys,
)


def test_fingpt_split_is_the_hf_split(data_dir: Path) -> None:
    full = phrasebank_50agree(data_dir)
    train, test = fingpt_fpb_split(data_dir)
    assert len(full) == 4846
    assert (len(train), len(test)) == (3634, 1212) == (math.floor(0.75 * 4846), 1212)
    # Hugging Face's train_test_split(seed=42): default_rng(42).permutation, test rows first
    perm = np.random.default_rng(42).permutation(len(full))
    assert test.texts[:5] == tuple(full.texts[i] for i in perm[:5])
    assert train.texts[0] == full.texts[perm[1212]]
    # rows are split, not texts: 50Agree's few duplicate sentences may sit on both sides
    overlap = set(train.texts) & set(test.texts)
    assert len(overlap) <= 11
    assert fingpt_fpb_split(data_dir)[1].texts == test.texts  # deterministic


def test_text_key_ignores_what_cleaning_removes() -> None:
    base = "$AAPL - Apple & Co beat estimates, shares up 5%"
    assert text_key(base) == text_key(f"  {base}  https://t.co/xyz ")
    assert text_key(base) == text_key(base.replace("&", "&amp;").upper())
    assert text_key(base) == text_key(base.replace(",", " ,"))
    assert text_key(base) != text_key("$AAPL - Apple misses estimates, shares down 5%")


def test_deduplicate_drops_training_rows(data_dir: Path) -> None:
    valid = twitter_valid(data_dir)
    seen = {text_key(t) for t in twitter_train(data_dir).texts}
    kept, dropped = deduplicate(valid, seen)
    # the data README: 12 texts occur in both files (exactly); near-duplicates add more
    assert dropped >= 12
    assert len(kept) == len(valid) - dropped
    assert not {text_key(t) for t in kept.texts} & seen
    assert len(kept.texts) == len(kept.labels)


def test_metrics_on_known_predictions() -> None:
    y = [0, 0, 1, 1, 1, 2]
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # right
            [0.2, 0.7, 0.1],  # wrong: neutral
            [0.1, 0.8, 0.1],  # right
            [0.1, 0.6, 0.3],  # right
            [0.1, 0.3, 0.6],  # wrong: positive
            [0.1, 0.1, 0.8],  # right
        ]
    )
    m = metrics(y, probs)
    assert m["rows"] == 6 and m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert m["per_class"]["negative"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(0.6667, abs=1e-4),
        "support": 2,
    }
    assert m["per_class"]["positive"]["precision"] == 0.5
    assert m["confusion"] == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert m["neutral_share"] == {"true": 0.5, "predicted": 0.5}
    # ECE by hand: bins (0.6,0.667], (0.667,0.733], (0.8,0.867], (0.867,0.933]
    ece = (2 / 6) * abs(0.5 - 0.6) + (1 / 6) * abs(0 - 0.7) + (2 / 6) * abs(1 - 0.8)
    ece += (1 / 6) * abs(1 - 0.9)
    assert m["ece"] == pytest.approx(ece, abs=1e-4)


def test_ece_is_zero_when_calibrated() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.4, 1.0, 20000)
    y_pred = rng.integers(0, 3, 20000)
    correct = rng.uniform(size=20000) < conf
    y = np.where(correct, y_pred, (y_pred + 1) % 3)
    probs = np.zeros((20000, 3))
    probs[np.arange(20000), y_pred] = conf
    probs[np.arange(20000), (y_pred + 1) % 3] = 1 - conf
    ece, bins = expected_calibration_error(probs, y)
    assert ece < 0.02
    assert sum(b["count"] for b in bins) == 20000


@pytest.mark.model
def test_eval_on_a_real_sample(served_model: Path, data_dir: Path, tmp_path: Path) -> None:
    clf = Classifier(served_model, "cpu")
    sample = [twitter_valid(data_dir).head(300), phrasebank_allagree(data_dir).head(300)]
    result = evaluate_classifier(clf, data_dir, sets=sample)
    assert set(result["sets"]) == {s.name for s in sample}
    tw = result["sets"]["twitter_financial_news_valid"]
    assert tw["rows"] + tw["dropped_as_training_duplicates"] == 300
    assert tw["anchors"] == ANCHORS["twitter_financial_news_valid"]
    # the figures agree with a direct computation from predict()
    kept, _ = deduplicate(sample[1], training_keys(served_model))
    preds = clf.predict(kept.texts)
    acc = np.mean([p.label == ("negative", "neutral", "positive")[y] for p, y in
                   zip(preds, kept.labels, strict=True)])  # fmt: skip
    assert result["sets"]["financial_phrasebank_allagree"]["accuracy"] == pytest.approx(acc, 1e-3)
    for m in result["sets"].values():
        assert 0 <= m["ece"] <= 1 and m["accuracy"] > 0.6
        assert sum(map(sum, m["confusion"])) == m["rows"]
    goals = {g["set"]: g for g in result["goals"]}
    twitter_goal = goals["twitter_financial_news_valid"]
    assert (twitter_goal["metric"], twitter_goal["value"]) == ("f1_weighted", tw["f1_weighted"])
    assert twitter_goal["met"] == (tw["f1_weighted"] >= 0.90)
    assert twitter_goal["gap"] == pytest.approx(tw["f1_weighted"] - 0.90, abs=1e-4)
    paths = save_plots(result, tmp_path)
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


@pytest.mark.model
def test_cli_eval_json(served_model: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from streams.cli import _register, cli

    _register()
    out = CliRunner().invoke(cli, ["model", "eval", "--json", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["model_dir"] == str(served_model)
    assert set(result["sets"]) == {
        "twitter_financial_news_valid",
        "financial_phrasebank_allagree",
        "fingpt_fpb_test",
    }
    for m in result["sets"].values():
        assert {"accuracy", "f1_weighted", "f1_macro", "per_class", "ece", "anchors"} <= set(m)
    assert (tmp_path / "eval.json").is_file()
    assert (tmp_path / "confusion.png").is_file() and (tmp_path / "reliability.png").is_file()
    assert json.loads((tmp_path / "eval.json").read_text())["sets"] == result["sets"]
