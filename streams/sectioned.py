"""Section-level scoring of long documents: each section its own verdict, the document a blend.

A document with sections (filing items, exhibits, an FOMC statement) is scored one section at
a time; the classifier chunks each section on sentence boundaries (pysbd) and averages the
chunks by tokens. The document's probabilities are the sections' weighted by their length.
Evidence is sentence-level: the sentences of each section's most negative and most positive
chunk (all its sentences when the section is a single chunk) are scored on their own, and the
extremes are kept, per section and for the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.chunking import split_sentences
from features.cleaning import clean_text
from models import LABELS, Evidence, Prediction
from streams.records import RawRecord, SectionScore, verdict_fields

# Sentences scored per section to find its evidence (the extremes' chunks hold ~5 each).
MAX_CANDIDATES = 24
# Shorter "sentences" (list markers, headings) are not evidence.
MIN_EVIDENCE_CHARS = 25


@dataclass(frozen=True)
class Unit:
    """One text the classifier scores for a record: a section, or the whole record."""

    name: str
    title: str
    text: str


def units_of(record: RawRecord) -> list[Unit]:
    """Sections of ``record`` as scoring units (its body as one more), or the record as one."""
    if not record.sections:
        return [Unit("", "", record.text())]
    units = [Unit("Body", "", clean_text(record.body))] if record.body.strip() else []
    units += [Unit(s.name, s.title, clean_text(s.text)) for s in record.sections]
    return [u for u in units if u.text]


def evidence_candidates(unit: Unit, prediction: Prediction) -> list[str]:
    """The sentences whose own scores decide the unit's evidence."""
    pool = [e.text for e in prediction.evidence] if prediction.chunks > 1 else [unit.text]
    seen: dict[str, None] = {}
    for text in pool:
        for sentence in split_sentences(text):
            if len(sentence) >= MIN_EVIDENCE_CHARS:
                seen.setdefault(sentence)
    return list(seen)[:MAX_CANDIDATES]


def extremes(candidates: Sequence[Evidence]) -> tuple[Evidence, ...]:
    """(most negative, most positive) of ``candidates``; () when there are none."""
    if not candidates:
        return ()
    return (min(candidates, key=lambda e: e.score), max(candidates, key=lambda e: e.score))


def section_score(unit: Unit, prediction: Prediction, evidence: tuple[Evidence, ...]):
    """The stored verdict of one section."""
    return SectionScore(
        name=unit.name,
        title=unit.title,
        evidence=evidence,
        **verdict_fields(prediction),
    )


def blend(context: Prediction, document: Prediction) -> tuple[float, float, float]:
    """An entity mention's probabilities: its own context's averaged with its document's."""
    return (
        (context.p_negative + document.p_negative) / 2,
        (context.p_neutral + document.p_neutral) / 2,
        (context.p_positive + document.p_positive) / 2,
    )


def label_of(probs: Sequence[float]) -> str:
    """The label with the highest probability."""
    return LABELS[max(range(len(probs)), key=probs.__getitem__)]


def combine(
    units: Sequence[Unit], predictions: Sequence[Prediction], evidence: tuple[Evidence, ...]
) -> Prediction:
    """The document verdict: section probabilities weighted by section length."""
    if len(predictions) == 1:
        only = predictions[0]
        return Prediction(**{**only.__dict__, "evidence": evidence or only.evidence})
    weights = np.array([len(u.text) for u in units], dtype=np.float64)
    probs = np.array([[p.p_negative, p.p_neutral, p.p_positive] for p in predictions])
    doc = (probs * weights[:, None]).sum(axis=0) / weights.sum()
    return Prediction.from_probabilities(doc, sum(p.chunks for p in predictions), evidence)
