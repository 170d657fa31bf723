"""Evaluation of a built model on the held-out sets: accuracy and weighted F1 (scikit-learn).

Sets: Twitter financial news valid (all 2,388 rows) and Financial PhraseBank AllAgree (2,264);
neither is ever trained on.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from models import data as labeled
from models.data import LABELS
from models.registry import EVAL_JSON

log = logging.getLogger(__name__)


def evaluate_classifier(classifier, data_dir: Path) -> dict[str, Any]:
    """Metrics of ``classifier`` (a :class:`models.runtime.Classifier`) on every eval set."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    sets: dict[str, Any] = {}
    for s in labeled.eval_sets(data_dir):
        started = time.perf_counter()
        preds = classifier.predict(s.texts)
        seconds = time.perf_counter() - started
        y_pred = [LABELS.index(p.label) for p in preds]
        y_true = list(s.labels)
        sets[s.name] = {
            "rows": len(s),
            "licence": s.licence,
            "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "f1_weighted": round(float(f1_score(y_true, y_pred, average="weighted")), 4),
            "f1_macro": round(float(f1_score(y_true, y_pred, average="macro")), 4),
            "confusion": confusion_matrix(y_true, y_pred, labels=[0, 1, 2]).tolist(),
            "docs_per_s": round(len(s) / seconds, 1) if seconds > 0 else None,
        }
        log.info(
            "%s: accuracy %.4f, weighted F1 %.4f (%d rows, %.0f docs/s)",
            s.name,
            sets[s.name]["accuracy"],
            sets[s.name]["f1_weighted"],
            len(s),
            sets[s.name]["docs_per_s"] or 0,
        )
    return {
        "model_dir": str(classifier.folder),
        "model_file": classifier.model_file.name,
        "version": classifier.version,
        "provider": classifier.provider,
        "labels": list(LABELS),
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sets": sets,
    }


def evaluate_folder(
    folder: Path, data_dir: Path, *, provider: str = "cpu", variant: str | None = None
) -> dict[str, Any]:
    """Load the model in ``folder`` (``variant`` int8 | fp32) and evaluate it."""
    from models.runtime import Classifier

    return evaluate_classifier(Classifier(folder, provider, variant=variant), data_dir)


def save_eval(folder: Path, result: dict[str, Any]) -> Path | None:
    """Write ``result`` to ``<folder>/eval.json``; None (and a warning) if it is read-only."""
    path = folder / EVAL_JSON
    try:
        path.write_text(json.dumps(result, indent=2) + "\n")
    except OSError as exc:
        log.warning("could not save %s: %s", path, exc)
        return None
    return path
