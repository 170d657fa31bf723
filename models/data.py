"""Labeled-data loaders: every training and evaluation set the model build and eval read.

Labels are ``negative``, ``neutral``, ``positive`` — in that index order everywhere (model logits,
probabilities, cards). Files are read from the data directory given by settings (``FINSENT_DATA``);
nothing here copies data anywhere.
"""

from __future__ import annotations

import ast
import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from streams.errors import FinsentError

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}

TWITTER_DIR = Path("labeled/twitter_financial_news_sentiment")
TWITTER_TRAIN = TWITTER_DIR / "sent_train.csv"
TWITTER_VALID = TWITTER_DIR / "sent_valid.csv"
FINENTITY = Path("labeled/finentity/FinEntity.json")
PHRASEBANK_ALLAGREE = Path("labeled/financial_phrasebank/Sentences_AllAgree.txt")

# Twitter financial news: 0=bearish, 1=bullish, 2=neutral.
_TWITTER_MAP = {0: LABEL_INDEX["negative"], 1: LABEL_INDEX["positive"], 2: LABEL_INDEX["neutral"]}


@dataclass(frozen=True)
class LabeledSet:
    """Texts with label indices into :data:`LABELS`, and where they came from."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    licence: str
    files: tuple[Path, ...]
    note: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> dict[str, int]:
        counts = Counter(self.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(LABELS)}

    def head(self, n: int) -> LabeledSet:
        """The first ``n`` rows (for quick runs and tests)."""
        return LabeledSet(
            self.name, self.texts[:n], self.labels[:n], self.licence, self.files, self.note
        )


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FinsentError(f"labeled data file not found: {path} (set FINSENT_DATA)")
    return path


def _twitter(data_dir: Path, rel: Path, name: str) -> LabeledSet:
    path = _require(data_dir / rel)
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["text"])
            labels.append(_TWITTER_MAP[int(row["label"])])
    return LabeledSet(
        name,
        tuple(texts),
        tuple(labels),
        "MIT",
        (path,),
        "0=bearish->negative, 1=bullish->positive, 2=neutral->neutral",
    )


def twitter_train(data_dir: Path) -> LabeledSet:
    """Twitter financial news sentiment, train split (MIT, 9,543 rows)."""
    return _twitter(data_dir, TWITTER_TRAIN, "twitter_financial_news_train")


def twitter_valid(data_dir: Path) -> LabeledSet:
    """Twitter financial news sentiment, validation split (MIT, 2,388 rows). Never trained on."""
    return _twitter(data_dir, TWITTER_VALID, "twitter_financial_news_valid")


def finentity_paragraphs(data_dir: Path) -> LabeledSet:
    """FinEntity paragraphs with a paragraph-level label (ODC-BY 1.0).

    FinEntity labels entities, not paragraphs. A paragraph is kept only when all its entity labels
    agree (851 of 979 paragraphs); that shared label becomes the paragraph label. Paragraphs with
    mixed entity sentiment (e.g. one company up, another down) carry no single document label and
    are dropped.
    """
    path = _require(data_dir / FINENTITY)
    records = json.loads(path.read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[int] = []
    for rec in records:
        ann = rec.get("annotations") or []
        if isinstance(ann, str):  # some copies store a Python-literal string
            ann = ast.literal_eval(ann)
        names = {str(a["label"]).lower() for a in ann}
        text = str(rec.get("content", "")).strip()
        if len(names) == 1 and text:
            (label,) = names
            if label in LABEL_INDEX:
                texts.append(text)
                labels.append(LABEL_INDEX[label])
    return LabeledSet(
        "finentity_agreeing_paragraphs",
        tuple(texts),
        tuple(labels),
        "ODC-BY 1.0",
        (path,),
        "paragraphs whose entity labels all agree; mixed ones dropped",
    )


def phrasebank_allagree(data_dir: Path) -> LabeledSet:
    """Financial PhraseBank AllAgree (CC BY-NC-SA 3.0, 2,264 rows). Evaluation only."""
    path = _require(data_dir / PHRASEBANK_ALLAGREE)
    texts: list[str] = []
    labels: list[int] = []
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip()
        if not line:
            continue
        sentence, _, label = line.rpartition("@")
        texts.append(sentence.strip())
        labels.append(LABEL_INDEX[label.strip().lower()])
    return LabeledSet(
        "financial_phrasebank_allagree",
        tuple(texts),
        tuple(labels),
        "CC BY-NC-SA 3.0 (non-commercial; evaluation only)",
        (path,),
    )


def training_sets(data_dir: Path) -> list[LabeledSet]:
    """The permissive training sets: Twitter train + FinEntity agreeing paragraphs."""
    return [twitter_train(data_dir), finentity_paragraphs(data_dir)]


def training_files(data_dir: Path) -> list[Path]:
    """The files the training sets are read from (their contents go into the build key)."""
    return [data_dir / TWITTER_TRAIN, data_dir / FINENTITY]


def eval_sets(data_dir: Path) -> list[LabeledSet]:
    """The held-out evaluation sets: Twitter valid and Financial PhraseBank AllAgree."""
    return [twitter_valid(data_dir), phrasebank_allagree(data_dir)]
