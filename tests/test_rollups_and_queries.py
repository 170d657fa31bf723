"""Rollups maintained by the engine, their TTL, and the named queries, on real chDB."""

from __future__ import annotations

import dataclasses

import pytest

from streams.errors import ConfigError
from streams.history import History
from streams.queries import EXAMPLES, example
from streams.sinks.clickhouse import SentimentStore
from streams.sinks.rollups import apply_retention
from tests.test_serve import scored

MINUTE = """
SELECT ticker, minute, uniqExactMerge(docs), round(arrayAvg(maxMapMerge(scores).2), 4),
       uniqExactIfMerge(positive), uniqExactIfMerge(negative)
FROM sentiment_minute GROUP BY ticker, minute ORDER BY ticker, minute
"""
FROM_MENTIONS = """
SELECT ticker, toDateTime(toStartOfMinute(published_at), 'UTC') AS minute, count(),
       round(avg(score), 4), countIf(label = 'positive'), countIf(label = 'negative')
FROM sentiment_mentions FINAL GROUP BY ticker, minute ORDER BY ticker, minute
"""


@pytest.fixture
def store(tmp_path):
    opened = SentimentStore.open(f"chdb://{tmp_path / 'ch'}")
    yield opened
    opened.close()


def _records():
    return [
        scored("a", ("AAPL",), 0.8, minutes=0),
        scored("b", ("AAPL", "MSFT"), -0.6, minutes=0),
        scored("c", ("AAPL",), 0.1, minutes=1),
        scored("d", ("MSFT",), -0.9, minutes=61),
    ]


def test_rollups_stay_right_when_documents_are_delivered_twice(store):
    records = _records()
    store.write(records)
    # The replay after a crash: same documents, a score off in the last bits (another batch).
    store.write([dataclasses.replace(r, score=r.score + 1e-7) for r in records[:3]])
    store.write(records[1:2])
    rollup = store.query(MINUTE).rows
    assert rollup == store.query(FROM_MENTIONS).rows
    assert [row[2] for row in rollup] == [2, 1, 1, 1]  # AAPL 14:30, 14:31; MSFT 14:30, 15:31
    assert rollup[0][3] == pytest.approx(0.1, abs=1e-4)  # (0.8 - 0.6) / 2


def test_rollup_retention_follows_the_setting(store):
    store.write(_records())
    apply_retention(store.client, 30)  # the rows are from 2021: older than 30 days
    assert "TTL" in store.client.command("SHOW CREATE TABLE sentiment_minute")
    store.client.command("OPTIMIZE TABLE sentiment_minute FINAL")
    assert store.query("SELECT count() FROM sentiment_minute").rows == [(0,)]
    apply_retention(store.client, 0)
    assert "TTL" not in store.client.command("SHOW CREATE TABLE sentiment_minute")
    store.write(_records())
    store.client.command("OPTIMIZE TABLE sentiment_minute FINAL")
    assert store.query("SELECT count() FROM sentiment_minute").rows[0][0] == 4
    with pytest.raises(ConfigError, match="FINSENT_ROLLUP_TTL_DAYS"):
        apply_retention(store.client, -1)


def test_every_example_runs_and_answers(store):
    earlier = [scored(f"e{d}", ("AAPL",), 0.1 * d, minutes=-1440 * d) for d in (1, 2, 3)]
    store.write([*_records(), *earlier, scored("f", ("AAPL",), -0.95, minutes=5, kind="filing")])
    history = History(store)
    for name in EXAMPLES:
        needs_ticker = any(p.name == "ticker" for p in example(name).params)
        frame = history.example(name, **({"ticker": "AAPL"} if needs_ticker else {}))
        assert not frame.empty, name
    latest = history.example("latest").set_index("ticker")
    assert latest.loc["MSFT", "latest_score"] == pytest.approx(-0.9)
    assert latest.loc["AAPL", "documents"] == 7
    (z,) = history.example("zscore_today").itertuples()
    today = (0.8 - 0.6 + 0.1 - 0.95) / 4  # the day's four AAPL documents, earlier days 0.1..0.3
    assert (z.ticker, z.days_30d) == ("AAPL", 3)
    assert z.z == pytest.approx((today - 0.2) / 0.1, abs=0.02)
    assert list(history.example("volume_spikes")["ticker"]) == ["AAPL"]
    filings = history.example("negative_filings_week")
    assert list(filings["title"]) == ["title f"]
    assert list(history.example("daily_series", ticker="AAPL")["documents"]) == [1, 1, 1, 4]
    ewm = history.example("ewm_score", ticker="MSFT", half_life_hours=1)
    # 61 minutes apart, half-life 60 minutes: weights 1 and 2^(-61/60).
    w = 2 ** (-61 / 60)
    assert ewm["ewm_score"].iloc[-1] == pytest.approx((-0.9 + w * -0.6) / (1 + w), abs=1e-3)


def test_parameters_are_bound_not_pasted(store):
    store.write(_records())
    history = History(store)
    assert history.example("daily_series", ticker="AAPL' OR 1=1 --").empty
    assert (
        len(history.sql("SELECT doc_id FROM sentiment_docs WHERE doc_id = {d:String}", d="a")) == 1
    )


def test_unknown_examples_and_parameters_are_named():
    with pytest.raises(ConfigError, match="known: latest"):
        example("nope")
    with pytest.raises(ConfigError, match="needs -p ticker"):
        example("daily_series").bind({})
    with pytest.raises(ConfigError, match=r"got \['tiker'\]"):
        example("daily_series").bind({"tiker": "A"})
