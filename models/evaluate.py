"""Evaluation a user can trust: held-out sets deduplicated against the model's own training
rows, the figures trading code cares about (accuracy, weighted and macro F1, per-class precision
and recall, expected calibration error, how often the model says neutral), next to published
anchors and the project's goals; plots of the confusion matrices and the reliability diagram.

Sets: Twitter financial news valid (TFNS), Financial PhraseBank AllAgree, and the FinGPT
benchmark's FPB test split (50Agree, ``train_test_split(test_size=0.25, seed=42)``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models import data as labeled
from models.data import LABELS, LabeledSet, text_key
from models.registry import EVAL_JSON, TRAINING_KEYS

log = logging.getLogger(__name__)

ECE_BINS = 15
CONFUSION_PNG = "confusion.png"
RELIABILITY_PNG = "reliability.png"

TFNS = "twitter_financial_news_valid"
FPB_ALLAGREE = "financial_phrasebank_allagree"
FPB_FINGPT = "fingpt_fpb_test"

# Published figures to read ours against (weighted F1 unless the key says accuracy).
ANCHORS: dict[str, list[dict[str, Any]]] = {
    TFNS: [
        {"model": "FinBERT", "source": "FinGPT benchmark (TFNS)", "f1_weighted": 0.733},
        {"model": "FinGPT v3.3 (13B LLM)", "source": "FinGPT benchmark", "f1_weighted": 0.903},
    ],
    FPB_ALLAGREE: [
        {
            "model": "FinBERT",
            "source": "Araci 2019, 10-fold CV on AllAgree (trained on AllAgree)",
            "accuracy": 0.97,
        },
    ],
    FPB_FINGPT: [
        {"model": "FinBERT", "source": "FinGPT benchmark (FPB)", "f1_weighted": 0.880},
        {"model": "FinGPT v3.3 (13B LLM)", "source": "FinGPT benchmark", "f1_weighted": 0.882},
        {
            "model": "FinBERT",
            "source": "Araci 2019, 10-fold CV on 50Agree",
            "accuracy": 0.86,
            "f1_weighted": 0.84,
        },
    ],
}

# The goals per named model: set -> (metric, at least).
GOALS: dict[str, dict[str, tuple[str, float]]] = {
    "default": {TFNS: ("f1_weighted", 0.90), FPB_ALLAGREE: ("accuracy", 0.93)},
    "research": {FPB_FINGPT: ("f1_weighted", 0.89)},
}


def expected_calibration_error(
    probs: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS
) -> tuple[float, list[dict[str, float]]]:
    """ECE of the top-label confidence over ``bins`` equal-width bins, and the bins
    (confidence, accuracy, count) for a reliability diagram."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    table: list[dict[str, float]] = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        if n == 0:
            continue
        acc, avg = float(correct[sel].mean()), float(conf[sel].mean())
        ece += n / len(conf) * abs(acc - avg)
        table.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "confidence": round(avg, 4),
                "accuracy": round(acc, 4),
                "count": n,
            }
        )
    return float(ece), table


def metrics(y_true: Sequence[int], probs: np.ndarray) -> dict[str, Any]:
    """Every figure of one set from true labels and predicted probabilities (n, 3)."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    y = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    pred = probs.argmax(axis=1)
    labels = list(range(len(LABELS)))
    p, r, f, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    ece, bins = expected_calibration_error(probs, y)
    neutral = LABELS.index("neutral")
    return {
        "rows": len(y),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "f1_weighted": round(float(f1_score(y, pred, average="weighted", zero_division=0)), 4),
        "f1_macro": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
        "per_class": {
            name: {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4),
                "support": int(support[i]),
            }
            for i, name in enumerate(LABELS)
        },
        "ece": round(ece, 4),
        "neutral_share": {
            "true": round(float((y == neutral).mean()), 4) if len(y) else 0.0,
            "predicted": round(float((pred == neutral).mean()), 4) if len(y) else 0.0,
        },
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "reliability": bins,
    }


def training_keys(folder: Path) -> set[str]:
    """Text keys of the rows the model in ``folder`` was trained on (empty when unknown)."""
    path = folder / TRAINING_KEYS
    if not path.is_file():
        log.warning("%s missing: evaluation cannot drop training duplicates", path)
        return set()
    return {line for line in path.read_text().splitlines() if line}


def deduplicate(s: LabeledSet, seen: set[str]) -> tuple[LabeledSet, int]:
    """``s`` without the rows whose text key is in ``seen``, and how many were dropped."""
    keep = [i for i, t in enumerate(s.texts) if text_key(t) not in seen]
    kept = LabeledSet(
        s.name,
        tuple(s.texts[i] for i in keep),
        tuple(s.labels[i] for i in keep),
        s.licence,
        s.files,
        s.note,
    )
    return kept, len(s) - len(keep)


def _goals(name: str, sets: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for set_name, (metric, target) in GOALS.get(name, {}).items():
        got = sets.get(set_name, {}).get(metric)
        out.append(
            {
                "set": set_name,
                "metric": metric,
                "goal": target,
                "value": got,
                "met": got is not None and got >= target,
                "gap": None if got is None else round(got - target, 4),
            }
        )
    return out


def evaluate_classifier(
    classifier, data_dir: Path, sets: Sequence[LabeledSet] | None = None
) -> dict[str, Any]:
    """Figures of ``classifier`` (a :class:`models.runtime.Classifier`) on every eval set, each
    deduplicated against the model's training rows, with anchors and goals."""
    seen = training_keys(classifier.folder)
    name = classifier.card.get("model_name", "default")
    out: dict[str, Any] = {}
    for s in labeled.eval_sets(data_dir) if sets is None else sets:
        kept, dropped = deduplicate(s, seen)
        classifier.clear_cache()
        started = time.perf_counter()
        preds = classifier.predict(kept.texts)
        seconds = time.perf_counter() - started
        probs = np.array([[p.p_negative, p.p_neutral, p.p_positive] for p in preds])
        m = metrics(kept.labels, probs.reshape(-1, len(LABELS)))
        out[s.name] = {
            **m,
            "rows_before_dedup": len(s),
            "dropped_as_training_duplicates": dropped,
            "licence": s.licence,
            "docs_per_s": round(len(kept) / seconds, 1) if seconds > 0 else None,
            "anchors": ANCHORS.get(s.name, []),
        }
        log.info(
            "%s: accuracy %.4f, weighted F1 %.4f, ECE %.4f (%d rows, %d dropped)",
            s.name,
            m["accuracy"],
            m["f1_weighted"],
            m["ece"],
            m["rows"],
            dropped,
        )
    return {
        "model_name": name,
        "model_dir": str(classifier.folder),
        "model_file": classifier.model_file.name,
        "version": classifier.version,
        "provider": classifier.provider,
        "temperature": classifier.temperature,
        "labels": list(LABELS),
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sets": out,
        "goals": _goals(name, out),
    }


def evaluate_folder(
    folder: Path, data_dir: Path, *, provider: str = "cpu", variant: str | None = None
) -> dict[str, Any]:
    """Load the model in ``folder`` (``variant`` int8 | fp32 | fp16) and evaluate it."""
    from models.runtime import Classifier

    return evaluate_classifier(Classifier(folder, provider, variant=variant), data_dir)


def save_eval(folder: Path, result: dict[str, Any]) -> Path | None:
    """Write ``result`` to ``<folder>/eval.json``; None (and a warning) if it is read-only."""
    path = folder / EVAL_JSON
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
    except OSError as exc:
        log.warning("could not save %s: %s", path, exc)
        return None
    return path


def save_plots(result: dict[str, Any], folder: Path) -> list[Path]:
    """Confusion matrices (one panel per set, row-normalised, counts printed) and a reliability
    diagram (accuracy against confidence per set) as PNG files in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    sets = result["sets"]
    title = f"{result['model_name']} model {result['version']} ({result['model_file']})"

    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets), 4.4), squeeze=False)
    for ax, (name, m) in zip(axes[0], sets.items(), strict=True):
        cm = np.array(m["confusion"], dtype=np.float64)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                color = "white" if norm[i, j] > 0.6 else "black"
                ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                        color=color, fontsize=9)  # fmt: skip
        ax.set_xticks(range(len(LABELS)), LABELS)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}\nacc {m['accuracy']:.3f}, F1w {m['f1_weighted']:.3f}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    confusion = folder / CONFUSION_PNG
    fig.savefig(confusion, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for name, m in sets.items():
        pts = m["reliability"]
        ax.plot(
            [b["confidence"] for b in pts],
            [b["accuracy"] for b in pts],
            marker="o",
            markersize=3,
            label=f"{name} (ECE {m['ece']:.3f})",
        )
    ax.set_xlim(0.3, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability, T={result['temperature']:.2f}\n{title}", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    reliability = folder / RELIABILITY_PNG
    fig.savefig(reliability, dpi=110)
    plt.close(fig)
    return [confusion, reliability]
