"""Is this story new? Exact repeats by normalised-text fingerprint, near-duplicates by MinHash.

The same story is often re-published: one Benzinga headline once per ticker it concerns, a wire
story on several sites, a headline lightly reworded. :class:`NoveltyIndex` remembers the recent
documents (the last ``max_docs``, within ``window`` of each other's publication time) and says,
for each new one, which story it belongs to and how new it is:

- a new story: novelty 1, its own doc id as story id;
- an exact repeat (same text after normalisation): novelty 0, the earlier document's story id;
- a near-duplicate (MinHash-estimated Jaccard similarity of word shingles >= ``threshold``):
  novelty ``1 - similarity``, the most similar earlier document's story id.

Pure: no I/O, no model. The pipeline uses the fingerprint to reuse an exact repeat's verdict.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from datasketch import MinHash, MinHashLSH

_NOT_WORD = re.compile(r"[\W_]+")
# Headlines are short: with 3-word shingles one changed word of a ten-word headline removes 3
# of its 8 shingles, so they use 2-word shingles; longer texts use 3.
SHORT_TEXT_WORDS = 30


def normalise(text: str) -> str:
    """Unicode-folded, lower case, punctuation removed, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def fingerprint(text: str) -> str:
    """A 128-bit hex digest of the normalised text: equal for exact repeats."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).hexdigest()


def shingles(text: str) -> set[str]:
    """Word 2-grams of a short text, 3-grams of a longer one; the whole text if shorter."""
    words = normalise(text).split()
    k = 2 if len(words) < SHORT_TEXT_WORDS else 3
    if len(words) <= k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


@dataclass(frozen=True)
class Novelty:
    """How new a document is, and which story it belongs to."""

    story_id: str  # the doc id of the story's first document seen
    novelty: float  # 1 new story, 0 exact repeat, between: 1 - similarity to the closest
    duplicate_of: str | None  # the earlier document it repeats or resembles
    fingerprint: str

    @property
    def exact(self) -> bool:
        """True for an exact repeat of an earlier document's text."""
        return self.duplicate_of is not None and self.novelty == 0.0


@dataclass
class _Entry:
    published_at: datetime
    verdict: Novelty
    minhash: MinHash | None  # None for an exact repeat: its first occurrence is indexed
    tickers: frozenset[str]


class NoveltyIndex:
    """The recent documents' fingerprints and MinHash signatures, bounded in count and time."""

    def __init__(
        self,
        *,
        max_docs: int = 50_000,
        window: timedelta = timedelta(hours=24),
        threshold: float = 0.7,
        num_perm: int = 64,
    ) -> None:
        if max_docs < 1:
            raise ValueError(f"max_docs must be at least 1, got {max_docs}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {threshold}")
        self.max_docs = max_docs
        self.window = window
        self.threshold = threshold
        self.num_perm = num_perm
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # doc id -> entry, oldest first
        self._by_fingerprint: dict[str, str] = {}  # fingerprint -> latest doc id with it
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._newest: datetime | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def observe(
        self,
        doc_id: str,
        text: str,
        published_at: datetime,
        tickers: Collection[str] = (),
    ) -> Novelty:
        """Judge ``doc_id`` against the documents seen before, then remember it.

        Near-duplicates must share a ticker when both name one: templated headlines ("Notable
        Call Options Activity on ABB") about different companies are different stories. Seeing
        the same ``doc_id`` again (a redelivery) returns its first verdict unchanged.
        """
        if (known := self._entries.get(doc_id)) is not None:
            return known.verdict
        self._newest = max(published_at, self._newest or published_at)
        self._evict()
        digest = fingerprint(text)
        earlier = self._entries.get(self._by_fingerprint.get(digest, ""))
        if earlier is not None and self._within(earlier, published_at):
            verdict = Novelty(earlier.verdict.story_id, 0.0, self._by_fingerprint[digest], digest)
            self._remember(doc_id, _Entry(published_at, verdict, None, frozenset(tickers)), digest)
            return verdict
        signature = self._minhash(text)
        verdict = Novelty(doc_id, 1.0, None, digest)
        best = self._closest(signature, published_at, frozenset(tickers))
        if best is not None:
            similarity, other = best
            story = self._entries[other].verdict.story_id
            verdict = Novelty(story, round(1.0 - similarity, 4), other, digest)
        self._lsh.insert(doc_id, signature)
        self._remember(doc_id, _Entry(published_at, verdict, signature, frozenset(tickers)), digest)
        return verdict

    def forget(self, doc_id: str) -> None:
        """Drop ``doc_id`` (a document that was not stored after all)."""
        entry = self._entries.pop(doc_id, None)
        if entry is None:
            return
        if self._by_fingerprint.get(entry.verdict.fingerprint) == doc_id:
            del self._by_fingerprint[entry.verdict.fingerprint]
        if entry.minhash is not None:
            self._lsh.remove(doc_id)

    def _minhash(self, text: str) -> MinHash:
        signature = MinHash(num_perm=self.num_perm)
        signature.update_batch([s.encode("utf-8") for s in shingles(text)])
        return signature

    def _closest(
        self, signature: MinHash, published_at: datetime, tickers: frozenset[str]
    ) -> tuple[float, str] | None:
        best: tuple[float, str] | None = None
        for other in self._lsh.query(signature):
            entry = self._entries[other]
            if entry.minhash is None or not self._within(entry, published_at):
                continue
            if tickers and entry.tickers and not tickers & entry.tickers:
                continue
            similarity = signature.jaccard(entry.minhash)
            if similarity >= self.threshold and (best is None or similarity > best[0]):
                best = (similarity, other)
        return best

    def _within(self, entry: _Entry, published_at: datetime) -> bool:
        return abs(entry.published_at - published_at) <= self.window

    def _remember(self, doc_id: str, entry: _Entry, digest: str) -> None:
        self._entries[doc_id] = entry
        self._by_fingerprint[digest] = doc_id

    def _evict(self) -> None:
        """Oldest first: beyond ``max_docs``, or published more than ``window`` before the
        newest document seen (approximate when input is out of order; matches check the
        window themselves)."""
        assert self._newest is not None
        horizon = self._newest - self.window
        while self._entries:
            doc_id, entry = next(iter(self._entries.items()))
            if len(self._entries) < self.max_docs and entry.published_at >= horizon:
                break
            self.forget(doc_id)
