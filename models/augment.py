"""Unlabeled text for distillation: noisy copies of the training rows, for the teacher to label.

A small student learns the teacher's function from the points it is shown. The labeled rows are
few (about 10,000 headlines), so each is also shown as a noisy copy (after Tang et al., 2019,
"Distilling task-specific knowledge from BERT into simple neural networks"): cashtags swapped
for others of the training set, one word in ten dropped and one in ten replaced by a word drawn
from the training texts, and now and then only a long span kept. The copies carry no gold
label; the teacher's probabilities are their only target.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_CASHTAG = re.compile(r"\$[A-Z]{1,5}")
DROP = 0.1  # chance that a word is left out
REPLACE = 0.1  # chance that a word is replaced by a word of the training texts
SPAN = 0.25  # chance that only a span of 60-100% of the words is kept (texts of 7+ words)


def noisy_copies(texts: Sequence[str], copies: int, seed: int) -> list[str]:
    """``copies`` noisy variants of each distinct text of ``texts`` (a variant equal to its
    source is left out), in a stable order for a given ``seed``."""
    rng = random.Random(seed)
    distinct = sorted(set(texts))
    words = [w for t in distinct for w in t.split() if w.isalpha()]
    cashtags = sorted({w for t in distinct for w in t.split() if _CASHTAG.fullmatch(w)})
    out = []
    for text in distinct:
        for _ in range(copies):
            variant = _noisy(text, rng, words, cashtags)
            if variant and variant != text:
                out.append(variant)
    return out


def _noisy(text: str, rng: random.Random, words: list[str], cashtags: list[str]) -> str:
    kept = []
    for word in text.split():
        if cashtags and _CASHTAG.fullmatch(word):
            kept.append(rng.choice(cashtags))
            continue
        draw = rng.random()
        if draw < DROP:
            continue
        kept.append(rng.choice(words) if draw < DROP + REPLACE else word)
    if len(kept) > 6 and rng.random() < SPAN:
        n = rng.randint(int(len(kept) * 0.6), len(kept))
        start = rng.randint(0, len(kept) - n)
        kept = kept[start : start + n]
    return " ".join(kept)
