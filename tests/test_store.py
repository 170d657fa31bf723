from dataclasses import replace
from datetime import UTC, datetime

import pytest

from models import Evidence
from streams.errors import StoreError
from streams.records import ScoredRecord
from streams.sinks.clickhouse import SentimentStore, migrate


@pytest.fixture
def store(tmp_path):
    opened = SentimentStore.open(f"chdb://{tmp_path / 'ch'}")
    yield opened
    opened.close()


PUBLISHED = datetime(2020, 6, 3, 14, 45, tzinfo=UTC)


def _record(doc_id: str, tickers=("AAPL", "MSFT"), score=0.5) -> ScoredRecord:
    now = datetime.now(UTC)
    return ScoredRecord(
        doc_id=doc_id, kind="news", source="test", title="t", published_at=PUBLISHED,
        received_at=now,
        scored_at=now, tickers=tickers, cik=None, label="positive", p_negative=0.1,
        p_neutral=0.3, p_positive=0.6, score=score, confidence=0.6, model_version="v1",
        chunks=2, evidence=(Evidence("worst", -0.2), Evidence("best", 0.8)),
    )  # fmt: skip


def test_migrations_apply_once(store):
    assert migrate(store.client) == []  # open() already applied them
    tables = {row[0] for row in store.query("SHOW TABLES").rows}
    assert {"sentiment_docs", "sentiment_mentions"} <= tables


def test_replayed_documents_leave_no_visible_duplicate(store):
    store.write([_record("a"), _record("b", tickers=())])
    store.write([_record("a", score=0.7)])  # redelivery after a crash
    assert store.query("SELECT count() FROM sentiment_docs FINAL").rows == [(2,)]
    assert store.query("SELECT count() FROM sentiment_mentions FINAL").rows == [(2,)]
    row = store.query(
        "SELECT evidence_negative, evidence_positive_score FROM sentiment_docs FINAL "
        "WHERE doc_id = {id:String}",
        {"id": "a"},
    ).rows
    assert row[0][0] == "worst" and row[0][1] == pytest.approx(0.8)


def test_queries_are_read_only_and_errors_are_clear(store):
    with pytest.raises(StoreError, match="readonly"):
        store.query("DROP TABLE sentiment_docs")
    with pytest.raises(StoreError, match=r"UNKNOWN_TABLE|Unknown table"):
        store.query("SELECT * FROM no_such_table")
    assert store.query("SELECT count() FROM sentiment_docs").rows == [(0,)]


def test_one_batch_may_span_decades_of_history(store):
    records = [
        replace(_record(f"old-{year}-{month}"), published_at=datetime(year, month, 1, tzinfo=UTC))
        for year in range(1994, 2024)
        for month in (1, 5, 9, 12)
    ]
    store.write(records)  # 120 monthly partitions in one insert
    assert store.query("SELECT count() FROM sentiment_docs FINAL").rows == [(len(records),)]


def test_a_broken_migration_is_a_clear_error(store, tmp_path):
    (tmp_path / "999_broken.sql").write_text("CREATE TABLE broken (x Nope) ENGINE = Memory;")
    with pytest.raises(StoreError, match=r"migration 999_broken\.sql failed"):
        migrate(store.client, tmp_path)
