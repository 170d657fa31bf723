"""Subscribe to scored documents: what trading code imports.

    from streams.client import subscribe

    for record in subscribe(tickers=["AAPL"], min_confidence=0.8):
        act_on(record.tickers, record.score)   # a streams.records.ScoredRecord

Records come from ``sentiment.scored`` (contract: ``streams/schemas/scored-record.v1.json``),
checked against the contract and filtered here. The topic is keyed by a document's first
ticker, so the records that lead with one ticker arrive in the order the worker emitted them.
Delivery is at-least-once: after a worker crash a record can come twice; deduplicate on
``(doc_id, model_version)``.

Start positions: new records only (default), everything the topic still holds
(``from_beginning``), or everything scored since a time (``since``): the history comes from
the store (through the worker while it owns the embedded store), then the topic takes over
where the history ended, without gaps or repeats.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.errors import BrokerError, FinsentError
from streams.records import InvalidRecord, ScoredRecord, validate
from streams.settings import Settings, load_settings

log = logging.getLogger(__name__)

POLL_MS = 500
_HISTORY_SQL = """
SELECT doc_id, kind, source, title, published_at, received_at, scored_at, tickers, cik, label,
       p_negative, p_neutral, p_positive, score, confidence, model_version, chunks,
       evidence_negative, evidence_negative_score, evidence_positive, evidence_positive_score,
       story_id, novelty, duplicate_of
FROM sentiment_docs FINAL
WHERE scored_at >= {since:DateTime64(3, 'UTC')}
  AND (empty({tickers:Array(String)}) OR hasAny(tickers, {tickers:Array(String)}))
  AND (empty({kinds:Array(String)}) OR has({kinds:Array(String)}, kind))
  AND confidence >= {min_confidence:Float64}
ORDER BY scored_at, doc_id
"""


@dataclass(frozen=True)
class RecordFilter:
    """Which scored records a subscriber wants; empty sets mean all."""

    tickers: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    min_confidence: float = 0.0

    def matches(self, record: ScoredRecord) -> bool:
        """True when ``record`` passes every part of the filter."""
        return (
            (not self.tickers or not self.tickers.isdisjoint(record.tickers))
            and (not self.kinds or record.kind in self.kinds)
            and record.confidence >= self.min_confidence
        )


def _evidence(pairs: Iterable[tuple[str, float | None]]) -> tuple[Any, ...]:
    from models import Evidence

    return tuple(Evidence(text, float(s)) for text, s in pairs if text and s is not None)


def decode_scored(value: bytes) -> ScoredRecord:
    """A ``sentiment.scored`` value as a typed record; :class:`InvalidRecord` if it breaks the
    contract."""
    try:
        payload = json.loads(value)
    except ValueError as exc:
        raise InvalidRecord(f"value is not JSON: {exc}", "decode") from None
    if not isinstance(payload, dict):
        raise InvalidRecord("value must be a JSON object", "decode")
    validate("scored-record.v1", payload)
    return ScoredRecord.from_json(payload)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _from_row(row: dict[str, Any]) -> ScoredRecord:
    return ScoredRecord(
        doc_id=row["doc_id"],
        kind=row["kind"],
        source=row["source"],
        title=row["title"],
        published_at=_utc(row["published_at"]),
        received_at=_utc(row["received_at"]),
        scored_at=_utc(row["scored_at"]),
        tickers=tuple(row["tickers"]),
        cik=row["cik"] or None,
        label=row["label"],
        p_negative=float(row["p_negative"]),
        p_neutral=float(row["p_neutral"]),
        p_positive=float(row["p_positive"]),
        score=float(row["score"]),
        confidence=float(row["confidence"]),
        model_version=row["model_version"],
        chunks=int(row["chunks"]),
        evidence=_evidence(
            [
                (row["evidence_negative"], row["evidence_negative_score"]),
                (row["evidence_positive"], row["evidence_positive_score"]),
            ]
        ),
        story_id=row["story_id"],
        novelty=float(row["novelty"]),
        duplicate_of=row["duplicate_of"] or None,
    )


def history(settings: Settings, since: datetime, wanted: RecordFilter) -> list[ScoredRecord]:
    """Stored records scored at or after ``since`` that pass ``wanted``, oldest first."""
    from streams.reader import open_reader

    store = open_reader(settings)
    try:
        result = store.query(
            _HISTORY_SQL,
            {
                "since": _utc(since),
                "tickers": sorted(wanted.tickers),
                "kinds": sorted(wanted.kinds),
                "min_confidence": wanted.min_confidence,
            },
        )
    finally:
        store.close()
    return [_from_row(dict(zip(result.columns, row, strict=True))) for row in result.rows]


def subscribe(
    settings: Settings | None = None,
    *,
    tickers: Iterable[str] = (),
    kinds: Iterable[str] = (),
    min_confidence: float = 0.0,
    since: datetime | None = None,
    from_beginning: bool = False,
    limit: int | None = None,
    idle_timeout_s: float | None = None,
) -> Iterator[ScoredRecord]:
    """Yield scored records that match the filter, until ``limit`` records or
    ``idle_timeout_s`` seconds without one (default: forever).

    ``since`` and ``from_beginning`` exclude each other. A record on the topic that breaks
    the contract is logged and skipped.
    """
    from kafka import KafkaConsumer, TopicPartition

    if since is not None and from_beginning:
        raise FinsentError("give since or from_beginning, not both")
    settings = settings or load_settings()
    wanted = RecordFilter(frozenset(tickers), frozenset(kinds), min_confidence)
    topic = settings.kafka.scored_topic
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap,
            enable_auto_commit=False,
            client_id="finsent-subscribe",
        )
    except Exception as exc:  # kafka-python raises NoBrokersAvailable and friends
        raise BrokerError(f"cannot reach Kafka at {settings.kafka.bootstrap}: {exc}") from exc
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise BrokerError(f"topic {topic!r} does not exist on {settings.kafka.bootstrap}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        seen: set[tuple[str, str]] = set()
        sent = 0
        if from_beginning:
            consumer.seek_to_beginning(*assigned)
        else:
            # The live part starts at today's ends. With since, the store's history is read
            # after that: the worker stores before it publishes, so everything before these
            # ends is in the history, and what is in both is skipped once, by its key.
            for tp, end in consumer.end_offsets(assigned).items():
                consumer.seek(tp, end)
        if since is not None:
            for record in history(settings, since, wanted):
                seen.add((record.doc_id, record.model_version))
                yield record
                sent += 1
                if limit is not None and sent >= limit:
                    return
        last = time.monotonic()
        while limit is None or sent < limit:
            batches = consumer.poll(timeout_ms=POLL_MS)
            if not batches:
                if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                    return
                continue
            last = time.monotonic()
            for messages in batches.values():
                for message in messages:
                    try:
                        record = decode_scored(message.value)
                    except InvalidRecord as error:
                        log.error("%s[%d]@%d skipped: %s", topic, message.partition,
                                  message.offset, error.reason)  # fmt: skip
                        continue
                    key = (record.doc_id, record.model_version)
                    if key in seen or not wanted.matches(record):
                        continue
                    yield record
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
    finally:
        consumer.close()
