"""The pure part of the worker: raw Kafka values in, scored records and rejections out.

No broker and no database here, so it is tested directly; ``streams.agents`` wires it to
Faust, ClickHouse and the scored topic.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from features.entities import EntityLinker, mention_contexts
from features.novelty import Novelty, NoveltyIndex
from features.tickers import TickerIndex, link_tickers
from models import Evidence, Prediction
from streams.records import (
    EntityScore,
    InvalidRecord,
    RawRecord,
    ScoredRecord,
    SectionScore,
    decode_raw,
    verdict_fields,
)
from streams.sectioned import (
    blend,
    combine,
    evidence_candidates,
    extremes,
    label_of,
    section_score,
    units_of,
)
from streams.settings import NoveltySettings

log = logging.getLogger(__name__)


class Classifier(Protocol):
    """The model runtime seam (``models.load_classifier()`` returns one)."""

    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


@dataclass(frozen=True)
class Incoming:
    """A value read from a raw topic, with where it came from."""

    value: bytes | None
    topic: str
    partition: int
    offset: int
    received_at: datetime


@dataclass(frozen=True)
class Rejected:
    """An input that goes to the dead-letter topic."""

    incoming: Incoming
    error: InvalidRecord


@dataclass(frozen=True)
class Analysis:
    """A record's verdict: the document's, and each section's when it has sections."""

    document: Prediction
    sections: tuple[SectionScore, ...]
    entities: tuple[EntityScore, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    """What one batch became: every input is in exactly one of the two lists."""

    scored: list[ScoredRecord]
    rejected: list[Rejected]
    inputs: list[Incoming]  # the input of each scored record, in the same order


def novelty_index(settings: NoveltySettings) -> NoveltyIndex:
    """The worker's novelty index, sized by ``FINSENT_NOVELTY_*``."""
    return NoveltyIndex(
        max_docs=settings.max_docs,
        window=timedelta(hours=settings.window_hours),
        threshold=settings.threshold,
    )


class Scorer:
    """Validates, cleans, links and classifies a batch of raw values."""

    def __init__(
        self,
        classifier: Classifier,
        tickers: TickerIndex,
        linker: EntityLinker | None = None,
        novelty: NoveltyIndex | None = None,
    ) -> None:
        """``novelty``: when given, each record gets a story id and novelty score, and an exact
        repeat of a recent text reuses that text's verdict instead of calling the model."""
        self.classifier = classifier
        self.tickers = tickers
        self.linker = linker
        self.novelty = novelty
        self._cache: OrderedDict[str, Analysis] = OrderedDict()  # fingerprint -> verdict, LRU

    def score(self, batch: Sequence[Incoming]) -> BatchResult:
        """Score every valid value of ``batch``; reject the rest with a reason.

        Should scoring raise where no rule expected it (a bug that some content triggers), the
        values are scored one by one and the ones that still raise are rejected with the error,
        so one value cannot stop the others.
        """
        try:
            return self._score(batch)
        except Exception:
            log.exception("batch of %d values failed to score; scoring them one by one", len(batch))
        parts = BatchResult([], [], [])
        for incoming in batch:
            try:
                part = self._score([incoming])
            except Exception as exc:
                where = (incoming.topic, incoming.partition, incoming.offset)
                log.exception("value %s[%d]@%d failed to score", *where)
                self._forget(incoming)
                error = InvalidRecord(f"scoring failed: {exc!r}", "classify")
                part = BatchResult([], [Rejected(incoming, error)], [])
            parts.scored.extend(part.scored)
            parts.rejected.extend(part.rejected)
            parts.inputs.extend(part.inputs)
        return parts

    def _forget(self, incoming: Incoming) -> None:
        """Take a value that was not scored out of the novelty index."""
        if self.novelty is not None:
            with suppress(InvalidRecord):
                self.novelty.forget(decode_raw(incoming.value).doc_id)

    def _score(self, batch: Sequence[Incoming]) -> BatchResult:
        parsed: list[tuple[Incoming, RawRecord]] = []
        rejected: list[Rejected] = []
        for incoming in batch:
            try:
                parsed.append((incoming, decode_raw(incoming.value)))
            except InvalidRecord as error:
                rejected.append(Rejected(incoming, error))
        if not parsed:
            return BatchResult([], rejected, [])
        verdicts = [self._observe(record) for _, record in parsed]
        # One classification per distinct text: a repeat (cached, or earlier in this batch)
        # takes the verdict of its text.
        keys = [v.fingerprint if v else str(n) for n, v in enumerate(verdicts)]
        todo: dict[str, RawRecord] = {}
        for key, (_, record) in zip(keys, parsed, strict=True):
            if key not in self._cache:
                todo.setdefault(key, record)
        analyses, failures = self._analyse_texts(todo)
        scored, inputs = [], []
        for (incoming, record), key, verdict in zip(parsed, keys, verdicts, strict=True):
            analysis = analyses.get(key)
            if analysis is None and key in self._cache:
                analysis = self._cache[key]
                self._cache.move_to_end(key)
            if analysis is None:
                error = InvalidRecord(
                    f"classifier failed: {failures[key]}", "classify", record.doc_id
                )
                rejected.append(Rejected(incoming, error))
                if self.novelty is not None:
                    self.novelty.forget(record.doc_id)
                continue
            scored.append(self._scored(incoming, record, analysis, verdict))
            inputs.append(incoming)
        if self.novelty is not None:
            self._remember(analyses)
        return BatchResult(scored, rejected, inputs)

    def _observe(self, record: RawRecord) -> Novelty | None:
        if self.novelty is None:
            return None
        tickers = link_tickers(record.title, self.tickers, given=record.tickers, cik=record.cik)
        return self.novelty.observe(record.doc_id, record.text(), record.published_at, tickers)

    def _analyse_texts(
        self, todo: dict[str, RawRecord]
    ) -> tuple[dict[str, Analysis], dict[str, Exception]]:
        """Classify the records of ``todo`` as one batch, or one by one if the batch fails;
        return the verdicts and, for the texts that could not be classified, why."""
        if not todo:
            return {}, {}
        try:
            return dict(zip(todo, self.analyse(list(todo.values())), strict=True)), {}
        except Exception:  # one poisonous text must not take the batch down with it
            log.exception("batch of %d failed to classify; retrying one by one", len(todo))
        analyses: dict[str, Analysis] = {}
        failures: dict[str, Exception] = {}
        for key, record in todo.items():
            try:
                (analyses[key],) = self.analyse([record])
            except Exception as exc:
                failures[key] = exc
        return analyses, failures

    def _remember(self, analyses: dict[str, Analysis]) -> None:
        assert self.novelty is not None
        self._cache.update(analyses)
        while len(self._cache) > self.novelty.max_docs:
            self._cache.popitem(last=False)

    def analyse(self, records: Sequence[RawRecord]) -> list[Analysis]:
        """Classify ``records``: sections one by one, sentence evidence, the document blend."""
        units = [units_of(record) for record in records]
        flat = [unit for group in units for unit in group]
        predictions = self.classifier.predict([unit.text for unit in flat])
        wanted: list[tuple[int, list[str]]] = []  # (unit index, candidate sentences)
        at = 0
        for record, group in zip(records, units, strict=True):
            for unit in group:
                if record.sections or predictions[at].chunks > 1:
                    wanted.append((at, evidence_candidates(unit, predictions[at])))
                at += 1
        sentences = [s for _, cands in wanted for s in cands]
        scores = iter([p.score for p in self.classifier.predict(sentences)] if sentences else [])
        evidence: dict[int, tuple[Evidence, ...]] = {
            i: extremes([Evidence(s, next(scores)) for s in cands]) for i, cands in wanted
        }
        analyses = []
        at = 0
        for record, group in zip(records, units, strict=True):
            preds = predictions[at : at + len(group)]
            own = [evidence.get(at + k, ()) for k in range(len(group))]
            document = combine(group, preds, extremes([e for ev in own for e in ev]))
            sections = tuple(
                section_score(u, p, ev) for u, p, ev in zip(group, preds, own, strict=True)
            )
            analyses.append(Analysis(document, sections if record.sections else ()))
            at += len(group)
        if self.linker is not None:
            analyses = self._with_entities(records, analyses)
        return analyses

    def _with_entities(
        self, records: Sequence[RawRecord], analyses: list[Analysis]
    ) -> list[Analysis]:
        """Companies named in each title and body; with several, each gets its own clauses'
        sentiment (blended with the document's), else the document's."""
        assert self.linker is not None
        links = [
            self.linker.link(r.title, r.body, confirmed=r.tickers) if r.kind == "news" else []
            for r in records
        ]
        contexts: list[str] = []
        owners: list[tuple[int, str]] = []
        for i, (record, found) in enumerate(zip(records, links, strict=True)):
            if len(found) > 1:
                text = f"{record.title}\n{record.body}" if record.body else record.title
                mentions = [m for link in found for m in link.mentions]
                contexts += mention_contexts(text, mentions)
                owners += [(i, m.ticker) for m in mentions]
        own = self.classifier.predict(contexts) if contexts else []
        per: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
        for key, p in zip(owners, own, strict=True):
            per.setdefault(key, []).append(blend(p, analyses[key[0]].document))
        out = []
        for i, (analysis, found) in enumerate(zip(analyses, links, strict=True)):
            d = analysis.document
            entities = []
            for link in found:
                rows = per.get((i, link.ticker), [(d.p_negative, d.p_neutral, d.p_positive)])
                probs = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
                entities.append(
                    EntityScore(
                        link.ticker,
                        link.relevance,
                        len(link.mentions),
                        probs[2] - probs[0],
                        label_of(probs),
                    )
                )
            out.append(Analysis(analysis.document, analysis.sections, tuple(entities)))
        return out

    def _scored(
        self, incoming: Incoming, record: RawRecord, analysis: Analysis, novelty: Novelty | None
    ) -> ScoredRecord:
        p = analysis.document
        tickers = link_tickers(
            f"{record.title}\n{record.body}", self.tickers, given=record.tickers, cik=record.cik
        )
        tickers += [e.ticker for e in analysis.entities if e.ticker not in tickers]
        return ScoredRecord(
            doc_id=record.doc_id,
            kind=record.kind,
            source=record.source,
            title=record.title,
            published_at=record.published_at,
            received_at=incoming.received_at,
            scored_at=datetime.now(UTC),
            tickers=tuple(tickers),
            cik=record.cik,
            model_version=self.classifier.version,
            evidence=p.evidence,
            **verdict_fields(p),
            sections=analysis.sections,
            form=record.form,
            entities=analysis.entities,
            story_id=novelty.story_id if novelty else None,
            novelty=novelty.novelty if novelty else None,
            duplicate_of=novelty.duplicate_of if novelty else None,
        )
