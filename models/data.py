"""Labeled-data loaders: every training and evaluation set the model build and eval read.

Labels are ``negative``, ``neutral``, ``positive`` — in that index order everywhere (model logits,
probabilities, cards). Files are read from the data directory given by settings (``FINSENT_DATA``);
nothing here copies data anywhere.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from features.cleaning import clean_text
from streams.errors import FinsentError

if TYPE_CHECKING:
    from models.registry import TrainConfig

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}

TWITTER_DIR = Path("labeled/twitter_financial_news_sentiment")
TWITTER_TRAIN = TWITTER_DIR / "sent_train.csv"
TWITTER_VALID = TWITTER_DIR / "sent_valid.csv"
FINENTITY = Path("labeled/finentity/FinEntity.json")
PHRASEBANK_ALLAGREE = Path("labeled/financial_phrasebank/Sentences_AllAgree.txt")
PHRASEBANK_50AGREE = Path("labeled/financial_phrasebank/Sentences_50Agree.txt")
PHRASEBANK_LICENCE = "CC BY-NC-SA 3.0 (non-commercial)"
FINGPT_TEST_SIZE = 0.25
FINGPT_SEED = 42
FINENTITY_NAME = "finentity_agreeing_paragraphs"
SEC_8K = Path("streams/filings/sec_8k_items.jsonl")
SEC_10K = Path("streams/filings/sec_10k_items.jsonl")
TRANSFER_WORDS = (8, 60)  # sentence length (words) kept for the transfer set
_NON_WORD = re.compile(r"[\W_]+")

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
        FINENTITY_NAME,
        tuple(texts),
        tuple(labels),
        "ODC-BY 1.0",
        (path,),
        "paragraphs whose entity labels all agree; mixed ones dropped",
    )


def _phrasebank(data_dir: Path, rel: Path, name: str) -> LabeledSet:
    path = _require(data_dir / rel)
    texts: list[str] = []
    labels: list[int] = []
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip()
        if not line:
            continue
        sentence, _, label = line.rpartition("@")
        texts.append(sentence.strip())
        labels.append(LABEL_INDEX[label.strip().lower()])
    return LabeledSet(name, tuple(texts), tuple(labels), PHRASEBANK_LICENCE, (path,))


def phrasebank_allagree(data_dir: Path) -> LabeledSet:
    """Financial PhraseBank AllAgree (CC BY-NC-SA 3.0, 2,264 rows). Never trained on by default."""
    return _phrasebank(data_dir, PHRASEBANK_ALLAGREE, "financial_phrasebank_allagree")


def phrasebank_50agree(data_dir: Path) -> LabeledSet:
    """Financial PhraseBank 50Agree (CC BY-NC-SA 3.0, 4,846 rows, file order)."""
    return _phrasebank(data_dir, PHRASEBANK_50AGREE, "financial_phrasebank_50agree")


def fingpt_fpb_split(data_dir: Path) -> tuple[LabeledSet, LabeledSet]:
    """(train, test) of the FinGPT benchmark's FPB split: 50Agree in file order, split like
    Hugging Face ``datasets.Dataset.train_test_split(test_size=0.25, seed=42)``.

    That method draws ``numpy.random.default_rng(seed).permutation(n)``; the first
    ``ceil(0.25 n)`` indices are the test rows (1,212 of 4,846), the next ``floor(0.75 n)`` the
    train rows (3,634).
    """
    import numpy as np

    full = phrasebank_50agree(data_dir)
    n = len(full)
    n_test = math.ceil(FINGPT_TEST_SIZE * n)
    n_train = math.floor((1 - FINGPT_TEST_SIZE) * n)
    perm = np.random.default_rng(FINGPT_SEED).permutation(n)

    def pick(idx, name: str, note: str) -> LabeledSet:
        return LabeledSet(
            name,
            tuple(full.texts[i] for i in idx),
            tuple(full.labels[i] for i in idx),
            full.licence,
            full.files,
            note,
        )

    note = "FinGPT FPB split of 50Agree: train_test_split(test_size=0.25, seed=42)"
    return (
        pick(perm[n_test : n_test + n_train], "fingpt_fpb_train", note),
        pick(perm[:n_test], "fingpt_fpb_test", note),
    )


def text_key(text: str) -> str:
    """A digest that is equal for texts that read the same to the model (for deduplication).

    Cleaned (:func:`features.cleaning.clean_text`), case-folded, punctuation spacing ignored.
    """
    norm = _NON_WORD.sub("", clean_text(text).casefold())
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def is_calibration_row(text: str, fraction: float) -> bool:
    """Whether a training text belongs to the held-out calibration part (stable, by its key).

    Keyed on :func:`text_key`, so duplicates land on the same side.
    """
    return int(text_key(text), 16) % 10_000 < fraction * 10_000


MODEL_NAMES: tuple[str, ...] = ("default", "research")


def training_sets(data_dir: Path, name: str = "default") -> list[LabeledSet]:
    """The training sets of model ``name``.

    ``default``: Twitter train + FinEntity agreeing paragraphs (MIT, ODC-BY: commercial use is
    fine). ``research``: those plus the FinGPT FPB train split of PhraseBank 50Agree
    (non-commercial).
    """
    if name not in MODEL_NAMES:
        raise FinsentError(f"model name must be one of {', '.join(MODEL_NAMES)}, got {name!r}")
    sets = [twitter_train(data_dir), finentity_paragraphs(data_dir)]
    if name == "research":
        sets.append(fingpt_fpb_split(data_dir)[0])
    return sets


def transfer_sentences(data_dir: Path, config: TrainConfig) -> dict[str, tuple[str, ...]]:
    """Unlabeled real sentences for the teacher to label, by source ("8-K sentences",
    "10-K MD&A sentences", "FinEntity sentences"), cleaned and unique by :func:`text_key`
    across sources:

    * ``config.transfer_sentences`` sentences of 8-K items (SEC public records), drawn at
      random with ``config.seed``: press-release sentences ("net sales rose 12% to ...");
    * ``config.mdna_sentences`` sentences of 10-K MD&A sections (Item 7), drawn the same way;
    * with ``config.finentity_sentences``, every sentence of the FinEntity paragraphs
      (ODC-BY), news read one sentence at a time, as the worker reads evidence and as
      PhraseBank is written.

    A source asked for none is left out (and not read); one with fewer sentences than asked
    gives all it has. The labeled sets lack these: Twitter is headlines, FinEntity a few
    hundred whole paragraphs.
    """
    import random

    def draw(sentences: dict[str, str], n: int) -> list[tuple[str, str]]:
        pool = list(sentences.items())
        random.Random(config.seed).shuffle(pool)
        return pool[:n]

    pools: dict[str, list[tuple[str, str]]] = {}
    if config.transfer_sentences:
        eight_k = _sentences(_sec_items(_require(data_dir / SEC_8K)))
        pools["8-K sentences"] = draw(eight_k, config.transfer_sentences)
    if config.mdna_sentences:
        mdna = _sentences(_sec_items(_require(data_dir / SEC_10K), "item_7"))
        pools["10-K MD&A sentences"] = draw(mdna, config.mdna_sentences)
    if config.finentity_sentences:
        pools["FinEntity sentences"] = list(
            _sentences(finentity_paragraphs(data_dir).texts).items()
        )
    seen: set[str] = set()
    out: dict[str, tuple[str, ...]] = {}
    for source, pool in pools.items():
        fresh = [(key, text) for key, text in pool if key not in seen]
        seen.update(key for key, _ in fresh)
        out[source] = tuple(text for _, text in fresh)
    return out


def _sentences(texts: Iterable[str]) -> dict[str, str]:
    """The sentences of ``texts`` (pysbd) of TRANSFER_WORDS words, mostly letters, cleaned,
    by :func:`text_key` (the first of each key), in order."""
    from features.chunking import split_sentences

    low, high = TRANSFER_WORDS
    pool: dict[str, str] = {}
    for item in texts:
        for sentence in split_sentences(item):
            text = clean_text(sentence)
            words = text.split()
            if not low <= len(words) <= high or sum(c.isalpha() for c in text) < len(text) / 2:
                continue
            pool.setdefault(text_key(text), text)
    return pool


def _sec_items(path: Path, only: str | None = None) -> list[str]:
    """The non-empty item texts of a filings file (one JSON filing per line, a field per item;
    only the ``only`` item when given), in filing-date order."""
    with path.open(encoding="utf-8") as lines:
        filings = sorted(map(json.loads, lines), key=lambda f: f["filing_date"])
    return [
        text
        for filing in filings
        for key, text in filing.items()
        if (key == only if only else key.startswith("item_")) and text and text.strip()
    ]


def labeled_files(data_dir: Path, name: str = "default") -> list[Path]:
    """The labeled files of model ``name``: what its teacher is trained from."""
    files = [data_dir / TWITTER_TRAIN, data_dir / FINENTITY]
    if name == "research":
        files.append(data_dir / PHRASEBANK_50AGREE)
    return files


def training_files(data_dir: Path, name: str = "default") -> list[Path]:
    """The files model ``name`` is trained from (their contents go into the build key): the
    labeled ones and the filings the transfer sentences come from."""
    return [*labeled_files(data_dir, name), data_dir / SEC_8K, data_dir / SEC_10K]


def eval_sets(data_dir: Path) -> list[LabeledSet]:
    """The evaluation sets: Twitter valid (TFNS), PhraseBank AllAgree, the FinGPT FPB test split.

    Each is deduplicated against a model's own training texts at evaluation time.
    """
    return [twitter_valid(data_dir), phrasebank_allagree(data_dir), fingpt_fpb_split(data_dir)[1]]
