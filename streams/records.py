"""Typed records at the topic boundaries, and their JSON (de)serialization.

The JSON Schemas in ``streams/schemas/`` are the contract users read; this module enforces
them. Decoding never raises past :class:`InvalidRecord`, whose ``reason`` and ``stage`` go to
the dead-letter topic with the original bytes.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema

from features.cleaning import clean_text
from models import Evidence, Prediction

RAW_SCHEMA = "finsent.raw.v1"
SCORED_SCHEMA = "finsent.scored.v1"
DEADLETTER_SCHEMA = "finsent.deadletter.v1"

SCHEMA_DIR = Path(__file__).parent / "schemas"

Stage = Literal["decode", "validate", "classify"]


class InvalidRecord(ValueError):
    """A raw value that cannot be scored; ``reason`` says why in words a producer can act on."""

    def __init__(self, reason: str, stage: Stage = "validate", doc_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage: Stage = stage
        self.doc_id = doc_id


@cache
def schema(name: str) -> dict[str, Any]:
    """Load a JSON Schema shipped in ``streams/schemas`` (``raw-record.v1`` …)."""
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text("utf-8"))


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    spec = schema(name)
    cls = jsonschema.validators.validator_for(spec)
    return cls(spec, format_checker=cls.FORMAT_CHECKER)


def validate(name: str, payload: dict[str, Any]) -> None:
    """Raise :class:`InvalidRecord` naming the first field that breaks schema ``name``."""
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(payload))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "record"
        raise InvalidRecord(f"{where}: {error.message}", doc_id=payload.get("doc_id"))


def parse_time(value: str) -> datetime:
    """ISO 8601 (or RFC 3339 with ``Z``) to an aware UTC datetime; naive means UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """An aware datetime as RFC 3339 UTC with milliseconds."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Section:
    """A named part of a long document (an 8-K item, a 10-K item), with its heading if known."""

    name: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class RawRecord:
    """A document to score, as producers write it to ``news.raw`` / ``filings.raw``."""

    doc_id: str
    kind: Literal["news", "filing", "fomc"]
    source: str
    published_at: datetime
    title: str = ""
    body: str = ""
    sections: tuple[Section, ...] = ()
    tickers: tuple[str, ...] = ()
    cik: str | None = None
    company: str | None = None
    form: str | None = None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form (a dict ready for ``json.dumps``)."""
        payload: dict[str, Any] = {
            "schema": RAW_SCHEMA,
            "doc_id": self.doc_id,
            "kind": self.kind,
            "source": self.source,
            "published_at": format_time(self.published_at),
            "title": self.title,
            "body": self.body,
            "tickers": list(self.tickers),
        }
        if self.sections:
            payload["sections"] = [
                {"name": s.name, "text": s.text, **({"title": s.title} if s.title else {})}
                for s in self.sections
            ]
        for name in ("cik", "company", "form", "url"):
            if getattr(self, name) is not None:
                payload[name] = getattr(self, name)
        return payload

    def to_bytes(self) -> bytes:
        """UTF-8 JSON for Kafka."""
        return json.dumps(self.to_json(), ensure_ascii=False).encode("utf-8")

    def missing_text(self) -> str | None:
        """Why nothing of this record would be scored, or None when something would.

        Scored are the body and the sections (:func:`streams.sectioned.units_of`), or, for a
        record without sections, its title and body. A filing's or FOMC text's title is made up
        by its producer ("ACME 8-K 2024-01-02"), so it is not scored alone.
        """
        if clean_text(self.body) or any(clean_text(s.text) for s in self.sections):
            return None
        if self.sections:
            return "every section and the body are empty"
        if self.kind != "news":
            return f"a {self.kind} record needs sections or a body; its title is not scored alone"
        return None if clean_text(self.title) else "title and body are empty"

    def text(self) -> str:
        """The cleaned text to score: title, body and sections in reading order."""
        parts = [self.title, self.body, *(s.text for s in self.sections)]
        return clean_text("\n".join(p for p in parts if p))


# Raw UTF-8 cannot hold a surrogate (decoding refuses it): only an escape \ud800-\udfff makes one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(payload: dict) -> None:
    """Raise when a decoded string holds an unpaired surrogate, which no store can encode
    (a pair of escapes for one character outside the BMP is fine)."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(
            "value holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), not text", "decode"
        ) from None


def decode_raw(value: bytes | None) -> RawRecord:
    """Parse and validate a Kafka value; raise :class:`InvalidRecord` with the reason."""
    if value is None:
        raise InvalidRecord("empty value (tombstone)", stage="decode")
    try:
        payload = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRecord(
            f"value is not UTF-8: {exc.reason} at byte {exc.start}", "decode"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"value is not JSON: {exc.msg} at char {exc.pos}", "decode") from None
    except RecursionError:
        raise InvalidRecord("value is not JSON we read: nested too deeply", "decode") from None
    if not isinstance(payload, dict):
        raise InvalidRecord(f"value must be a JSON object, got {type(payload).__name__}", "decode")
    if _SURROGATE_ESCAPE.search(value):
        _refuse_lone_surrogates(payload)
    validate("raw-record.v1", payload)
    doc_id = payload["doc_id"]
    try:
        published_at = parse_time(payload["published_at"])
    except (ValueError, OverflowError):  # OverflowError: a time zone past year 1 or 9999
        raise InvalidRecord(
            f"published_at: {payload['published_at']!r} is not an ISO 8601 time in years 1-9999",
            doc_id=doc_id,
        ) from None
    record = RawRecord(
        doc_id=doc_id,
        kind=payload["kind"],
        source=payload["source"],
        published_at=published_at,
        title=payload.get("title", ""),
        body=payload.get("body", ""),
        sections=tuple(
            Section(s["name"], s["text"], s.get("title", "")) for s in payload.get("sections", ())
        ),
        tickers=tuple(payload.get("tickers", ())),
        cik=payload.get("cik"),
        company=payload.get("company"),
        form=payload.get("form"),
        url=payload.get("url"),
    )
    if (missing := record.missing_text()) is not None:
        raise InvalidRecord(f"no text to score: {missing}", doc_id=doc_id)
    return record


@dataclass(frozen=True)
class SectionScore:
    """One section's own verdict, with its most negative and most positive sentence."""

    name: str
    title: str
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float
    score: float
    confidence: float
    chunks: int
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The wire form of one entry of ``sections`` in ``scored-record.v1.json``."""
        return {
            "name": self.name,
            "title": self.title,
            **_verdict_json(self),
            "chunks": self.chunks,
            "evidence": _evidence_json(self.evidence),
        }


def _verdict_json(v: SectionScore | ScoredRecord) -> dict[str, Any]:
    """The verdict fields shared by a document and each of its sections, rounded for the wire."""
    return {
        "label": v.label,
        "p_negative": round(v.p_negative, 6),
        "p_neutral": round(v.p_neutral, 6),
        "p_positive": round(v.p_positive, 6),
        "score": round(v.score, 6),
        "confidence": round(v.confidence, 6),
    }


def verdict_fields(prediction: Prediction) -> dict[str, Any]:
    """A prediction's verdict as keyword arguments for :class:`SectionScore` / ScoredRecord."""
    return {
        "label": prediction.label,
        "p_negative": prediction.p_negative,
        "p_neutral": prediction.p_neutral,
        "p_positive": prediction.p_positive,
        "score": prediction.score,
        "confidence": prediction.confidence,
        "chunks": prediction.chunks,
    }


def _evidence_json(evidence: tuple[Evidence, ...]) -> list[dict[str, Any]]:
    return [{"text": e.text, "score": round(e.score, 6)} for e in evidence]


@dataclass(frozen=True)
class EntityScore:
    """A company a document names: how central it is, and the sentiment of its own mentions."""

    ticker: str
    relevance: float
    mentions: int
    score: float
    label: str

    def to_json(self) -> dict[str, Any]:
        """One entry of ``entities`` in ``scored-record.v1.json``."""
        return {
            "ticker": self.ticker,
            "relevance": round(self.relevance, 4),
            "mentions": self.mentions,
            "score": round(self.score, 6),
            "label": self.label,
        }


@dataclass(frozen=True)
class ScoredRecord:
    """One scored document, as published on ``sentiment.scored`` and stored in ClickHouse."""

    doc_id: str
    kind: str
    source: str
    title: str
    published_at: datetime
    received_at: datetime
    scored_at: datetime
    tickers: tuple[str, ...]
    cik: str | None
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float
    score: float
    confidence: float
    model_version: str
    chunks: int
    evidence: tuple[Evidence, ...] = field(default=())
    sections: tuple[SectionScore, ...] = field(default=())
    form: str | None = None
    entities: tuple[EntityScore, ...] = field(default=())
    story_id: str | None = None  # the doc id of the story's first document (novelty index)
    novelty: float | None = None  # 1 new story, 0 exact repeat, between: near-duplicate
    duplicate_of: str | None = None  # the earlier document this one repeats or resembles

    @property
    def latency_ms(self) -> float:
        """Time from reading the record off Kafka to having its score."""
        return max(0.0, (self.scored_at - self.received_at).total_seconds() * 1000)

    @property
    def key(self) -> bytes:
        """Kafka key: the first ticker, so one ticker's records keep their order."""
        return self.tickers[0].encode() if self.tickers else b""

    def to_json(self) -> dict[str, Any]:
        """The wire form described by ``scored-record.v1.json``."""
        payload: dict[str, Any] = {
            "schema": SCORED_SCHEMA,
            "doc_id": self.doc_id,
            "kind": self.kind,
            "source": self.source,
            "title": self.title,
            "published_at": format_time(self.published_at),
            "received_at": format_time(self.received_at),
            "scored_at": format_time(self.scored_at),
            "tickers": list(self.tickers),
            "cik": self.cik,
            **_verdict_json(self),
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 3),
            "chunks": self.chunks,
            "evidence": _evidence_json(self.evidence),
        }
        if self.form:
            payload["form"] = self.form
        if self.sections:
            payload["sections"] = [s.to_json() for s in self.sections]
        if self.entities:
            payload["entities"] = [e.to_json() for e in self.entities]
        if self.story_id is not None:
            payload["story_id"] = self.story_id
            payload["novelty"] = self.novelty
            payload["duplicate_of"] = self.duplicate_of
        return payload

    def to_bytes(self) -> bytes:
        """UTF-8 JSON for Kafka."""
        return json.dumps(self.to_json(), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> ScoredRecord:
        """The record of a payload that keeps ``scored-record.v1.json``; inverse of
        :meth:`to_json`."""
        return cls(
            doc_id=payload["doc_id"],
            kind=payload["kind"],
            source=payload["source"],
            title=payload.get("title", ""),
            published_at=parse_time(payload["published_at"]),
            received_at=parse_time(payload["received_at"]),
            scored_at=parse_time(payload["scored_at"]),
            tickers=tuple(payload["tickers"]),
            cik=payload.get("cik"),
            **_verdict_of(payload),
            model_version=payload["model_version"],
            chunks=payload["chunks"],
            evidence=_evidence_of(payload["evidence"]),
            sections=tuple(
                SectionScore(
                    name=s["name"],
                    title=s["title"],
                    **_verdict_of(s),
                    chunks=s["chunks"],
                    evidence=_evidence_of(s["evidence"]),
                )
                for s in payload.get("sections", ())
            ),
            form=payload.get("form"),
            entities=tuple(EntityScore(**e) for e in payload.get("entities", ())),
            story_id=payload.get("story_id"),
            novelty=payload.get("novelty"),
            duplicate_of=payload.get("duplicate_of"),
        )


def _verdict_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The verdict fields of a document's or a section's payload (see :func:`_verdict_json`)."""
    return {
        name: payload[name]
        for name in ("label", "p_negative", "p_neutral", "p_positive", "score", "confidence")
    }


def _evidence_of(items: list[dict[str, Any]]) -> tuple[Evidence, ...]:
    return tuple(Evidence(e["text"], e["score"]) for e in items)


def deadletter_bytes(
    error: InvalidRecord, *, original: bytes | None, topic: str, partition: int, offset: int
) -> bytes:
    """The dead-letter envelope for a rejected value (``deadletter-record.v1.json``)."""
    payload = {
        "schema": DEADLETTER_SCHEMA,
        "reason": error.reason,
        "stage": error.stage,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "doc_id": error.doc_id,
        "original_b64": base64.b64encode(original or b"").decode("ascii"),
        "rejected_at": format_time(datetime.now(UTC)),
    }
    return json.dumps(payload).encode("utf-8")
