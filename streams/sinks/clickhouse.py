"""ClickHouse store: schema migrations, idempotent inserts, read queries.

One DSN selects the backend through clickhouse-connect: ``chdb://<path>`` runs the real
ClickHouse engine in-process (one process may own a path at a time), ``http(s)://...`` talks
to a server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
import pandas as pd
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from models import Evidence
from streams.errors import StoreError
from streams.records import ScoredRecord
from streams.settings import PROJECT_ROOT, redact_dsn

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "deploy" / "clickhouse"
MIGRATIONS_TABLE = "finsent_schema_migrations"
READ_ONLY = {"readonly": 1}
# Replayed history spans decades, so one batch can touch more than the default 100 partitions.
INSERT_SETTINGS = {"max_partitions_per_insert_block": 0}

DOC_COLUMNS = (
    "doc_id", "model_version", "kind", "source", "title", "published_at", "received_at",
    "scored_at", "tickers", "cik", "label", "p_negative", "p_neutral", "p_positive", "score",
    "confidence", "chunks", "evidence_negative", "evidence_negative_score", "evidence_positive",
    "evidence_positive_score", "latency_ms", "story_id", "novelty", "duplicate_of",
)  # fmt: skip
SECTION_COLUMNS = (
    "doc_id", "model_version", "section_index", "section", "section_title", "kind", "source",
    "form", "published_at", "tickers", "cik", "label", "p_negative", "p_neutral", "p_positive",
    "score", "confidence", "chunks", "evidence_negative", "evidence_negative_score",
    "evidence_positive", "evidence_positive_score", "scored_at",
)  # fmt: skip
MENTION_COLUMNS = (
    "ticker", "published_at", "doc_id", "model_version", "kind", "source", "label", "score",
    "confidence", "scored_at", "relevance", "mention_count", "entity_score", "entity_label",
    "story_id", "novelty",
)  # fmt: skip


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of a read query."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def connect(dsn: str) -> Client:
    """Open a clickhouse-connect client for ``dsn``; the embedded folder is created if needed."""
    if dsn.startswith("chdb://"):
        path = Path(dsn.removeprefix("chdb://"))
        if not path.is_absolute():
            raise StoreError(f"embedded ClickHouse path must be absolute, got {str(path)!r}")
        path.mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except ClickHouseError as exc:
        raise StoreError(f"cannot open ClickHouse at {redact_dsn(dsn)}: {exc}") from exc
    except RuntimeError as exc:  # chDB refuses a second engine in one process, or a locked path
        raise StoreError(f"cannot open embedded ClickHouse at {dsn}: {exc}") from exc


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrate(client: Client, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the versioned ``NNN_*.sql`` files not applied yet; return the names applied."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY name"
    )
    done = {row[0] for row in client.query(f"SELECT name FROM {MIGRATIONS_TABLE}").result_rows}
    applied = []
    for path in sorted(migrations_dir.glob("[0-9][0-9][0-9]_*.sql")):
        if path.name in done:
            continue
        for statement in _statements(path.read_text(encoding="utf-8")):
            try:
                client.command(statement)
            except ClickHouseError as exc:
                raise StoreError(f"migration {path.name} failed: {exc}") from exc
        client.insert(MIGRATIONS_TABLE, [[path.name]], column_names=["name"])
        applied.append(path.name)
        log.info("applied migration %s", path.name)
    return applied


def _extremes(evidence: Sequence[Evidence]) -> list[Any]:
    """evidence_negative, its score, evidence_positive, its score ('' and NULL when none)."""
    negative = min(evidence, key=lambda e: e.score, default=None)
    positive = max(evidence, key=lambda e: e.score, default=None)
    return [
        negative.text if negative else "", negative.score if negative else None,
        positive.text if positive else "", positive.score if positive else None,
    ]  # fmt: skip


def _novelty(record: ScoredRecord) -> list[Any]:
    """story_id and novelty; a record scored without a novelty index is its own new story."""
    return [record.story_id or record.doc_id, 1.0 if record.novelty is None else record.novelty]


def _doc_row(record: ScoredRecord) -> list[Any]:
    return [
        record.doc_id, record.model_version, record.kind, record.source, record.title,
        record.published_at, record.received_at, record.scored_at, list(record.tickers),
        record.cik or "", record.label, record.p_negative, record.p_neutral, record.p_positive,
        record.score, record.confidence, record.chunks, *_extremes(record.evidence),
        record.latency_ms, *_novelty(record), record.duplicate_of or "",
    ]  # fmt: skip


def _section_rows(record: ScoredRecord) -> Iterable[list[Any]]:
    for index, s in enumerate(record.sections):
        yield [
            record.doc_id, record.model_version, index, s.name, s.title, record.kind,
            record.source, record.form or "", record.published_at, list(record.tickers),
            record.cik or "", s.label, s.p_negative, s.p_neutral, s.p_positive, s.score,
            s.confidence, s.chunks, *_extremes(s.evidence), record.scored_at,
        ]  # fmt: skip


def _mention_rows(record: ScoredRecord) -> Iterable[list[Any]]:
    entities = {e.ticker: e for e in record.entities}
    for ticker in record.tickers:
        named = entities.get(ticker)  # a ticker from a field, cashtag or CIK: fully relevant
        yield [
            ticker, record.published_at, record.doc_id, record.model_version, record.kind,
            record.source, record.label, record.score, record.confidence, record.scored_at,
            named.relevance if named else 1.0, named.mentions if named else 0,
            named.score if named else record.score, named.label if named else record.label,
            *_novelty(record),
        ]  # fmt: skip


class SentimentStore:
    """The tables the worker writes and users query."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def open(cls, dsn: str) -> SentimentStore:
        """Connect and bring the schema up to date."""
        client = connect(dsn)
        migrate(client)
        return cls(client)

    def write(self, records: Sequence[ScoredRecord]) -> None:
        """Insert documents, their sections and mentions; returns once ClickHouse has them all.

        Safe to repeat: rows are keyed by (doc_id, model_version) and replaced on merge.
        """
        if not records:
            return
        tables = (
            ("sentiment_docs", [_doc_row(r) for r in records], DOC_COLUMNS),
            (
                "sentiment_sections",
                [row for r in records for row in _section_rows(r)],
                SECTION_COLUMNS,
            ),
            (
                "sentiment_mentions",
                [row for r in records for row in _mention_rows(r)],
                MENTION_COLUMNS,
            ),
        )
        try:
            for table, rows, columns in tables:
                if rows:
                    self.client.insert(table, rows, column_names=columns, settings=INSERT_SETTINGS)
        except ClickHouseError as exc:
            raise StoreError(f"insert of {len(records)} documents failed: {exc}") from exc

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        """Run a read query with bound ``{name:Type}`` parameters.

        The engine runs it with ``readonly=1``: a statement that would change anything fails.
        """
        try:
            result = self.client.query(sql, parameters=dict(parameters or {}), settings=READ_ONLY)
        except ClickHouseError as exc:
            raise StoreError(str(exc).strip()) from exc
        return QueryResult(tuple(result.column_names), list(result.result_rows))

    def query_df(self, sql: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Like :meth:`query`, as a pandas DataFrame."""
        try:
            return self.client.query_df(sql, parameters=dict(parameters or {}), settings=READ_ONLY)
        except ClickHouseError as exc:
            raise StoreError(str(exc).strip()) from exc

    def close(self) -> None:
        """Release the connection (and, for chDB, the engine's hold on its folder)."""
        self.client.close()
