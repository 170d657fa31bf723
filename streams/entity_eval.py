"""Evaluation of entity linking and entity-level sentiment on FinEntity (Tang et al., 2023).

Linking: the linker runs on each paragraph; a predicted mention is correct when it overlaps a
labelled entity span. Recall counts the labelled spans whose name the ticker list knows (the
span's normalised name is one of the linker's names), found with the same ticker.

Sentiment: for each labelled span of a paragraph that names several entities, the
entity-level verdict reads the mention's own clause or sentence
(:func:`features.entities.mention_contexts`); a paragraph about one entity gives it the
paragraph's verdict. The baseline gives every entity the paragraph's verdict.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from features.entities import EntityLinker, Mention, _key, mention_contexts, normalize_name
from streams.sectioned import blend, label_of

FINENTITY_FILE = "labeled/finentity/FinEntity.json"


@dataclass(frozen=True)
class LinkingReport:
    """Mention-level linking quality."""

    paragraphs: int
    predicted: int
    correct: int
    gold_known: int
    found: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.gold_known if self.gold_known else 0.0


@dataclass(frozen=True)
class SentimentReport:
    """Entity-level accuracy next to the document-level baseline."""

    entities: int
    entity_level_accuracy: float
    document_level_accuracy: float
    multi_label_paragraphs: int
    entity_level_accuracy_mixed: float
    document_level_accuracy_mixed: float


def load_finentity(data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Paragraphs with ``content`` and ``annotations`` (start, end, value, label)."""
    rows = json.loads((data_dir / FINENTITY_FILE).read_text(encoding="utf-8"))
    for row in rows:
        if isinstance(row["annotations"], str):
            row["annotations"] = ast.literal_eval(row["annotations"])
    return rows[:limit] if limit else rows


def evaluate_linking(linker: EntityLinker, rows: list[dict[str, Any]]) -> LinkingReport:
    """Precision and recall of :meth:`EntityLinker.mentions` against the labelled spans."""
    predicted = correct = gold_known = found = 0
    for row in rows:
        spans = [(a["start"], a["end"], a["value"]) for a in row["annotations"]]
        mentions = linker.mentions(row["content"])
        predicted += len(mentions)
        correct += sum(any(_overlaps(m, s, e) for s, e, _ in spans) for m in mentions)
        for start, end, value in spans:
            ticker = linker.aliases.get(_key(normalize_name(value)))
            if ticker is None:
                continue
            gold_known += 1
            found += any(_overlaps(m, start, end) and m.ticker == ticker for m in mentions)
    return LinkingReport(len(rows), predicted, correct, gold_known, found)


def _overlaps(mention: Mention, start: int, end: int) -> bool:
    return mention.start < end and start < mention.end


def evaluate_sentiment(classifier, rows: list[dict[str, Any]]) -> SentimentReport:
    """Accuracy of entity-level verdicts and of the paragraph verdict on each labelled span."""
    contexts: list[str] = []
    owners: list[int] = []
    gold: list[str] = []
    for i, row in enumerate(rows):
        spans = [Mention(a["value"], a["start"], a["end"], a["value"]) for a in row["annotations"]]
        contexts += mention_contexts(row["content"], spans)
        owners += [i] * len(spans)
        gold += [a["label"].lower() for a in row["annotations"]]
    doc_predictions = classifier.predict([r["content"] for r in rows])
    paragraph = [p.label for p in doc_predictions]
    own = classifier.predict(contexts) if contexts else []
    several = [len({a["value"] for a in r["annotations"]}) > 1 for r in rows]
    entity = [
        label_of(blend(own[k], doc_predictions[i])) if several[i] else paragraph[i]
        for k, i in enumerate(owners)
    ]
    mixed = {i for i, r in enumerate(rows) if len({a["label"] for a in r["annotations"]}) > 1}
    in_mixed = [k for k, i in enumerate(owners) if i in mixed]

    def accuracy(pred: list[str], keys: list[int]) -> float:
        return sum(pred[k] == gold[k] for k in keys) / len(keys) if keys else 0.0

    all_keys = list(range(len(gold)))
    doc = [paragraph[i] for i in owners]
    return SentimentReport(
        entities=len(gold),
        entity_level_accuracy=round(accuracy(entity, all_keys), 4),
        document_level_accuracy=round(accuracy(doc, all_keys), 4),
        multi_label_paragraphs=len(mixed),
        entity_level_accuracy_mixed=round(accuracy(entity, in_mixed), 4),
        document_level_accuracy_mixed=round(accuracy(doc, in_mixed), 4),
    )


def report_json(linking: LinkingReport, sentiment: SentimentReport | None) -> dict[str, Any]:
    """Both reports with the goals beside them."""
    out: dict[str, Any] = {
        "linking": {
            **asdict(linking),
            "precision": round(linking.precision, 4),
            "recall": round(linking.recall, 4),
            "goal_precision": 0.90,
            "goal_recall": 0.80,
        }
    }
    if sentiment is not None:
        out["entity_sentiment"] = asdict(sentiment)
    return out
