"""Novelty through the worker: real broker, real model, embedded ClickHouse, real headlines."""

from __future__ import annotations

import json

import jsonschema
import pytest
from test_worker import Pipeline

from streams.records import schema
from streams.sinks.clickhouse import SentimentStore
from streams.sources import get_source

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_repeated_headlines_share_a_story_id_in_clickhouse(
    kafka_bootstrap, served_model, data_dir, tmp_path
):
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    benzinga = get_source("news", "benzinga")(data_dir).records()
    at = next(n for n, r in enumerate(benzinga) if r["doc_id"] == "benzinga:1584")
    # Headlines of one day (within the 24-hour novelty window), among them "The
    # Beautiful Beatles" twice (rows 1584 and 1585).
    day = ("2009-08-10T20", "2009-08-11T20")
    rows = [r for r in benzinga[at - 15 : at + 15] if day[0] <= r["published_at"] < day[1]]
    assert len(rows) > 12
    by_title: dict[str, list[str]] = {}
    for row in rows:
        by_title.setdefault(row["title"].casefold(), []).append(row["doc_id"])
    repeated = [ids for ids in by_title.values() if len(ids) > 1]
    assert repeated, "this slice of the sample must hold a repeated headline"
    # The newest story re-published by another source, a minute later.
    copy = dict(rows[-1], doc_id="wire:copy-1", source="wire")
    copy["published_at"] = copy["published_at"].replace(":00.000Z", ":59.000Z")
    pipe.send(pipe.settings.kafka.news_topic, [json.dumps(r).encode() for r in [*rows, copy]])

    pipe.run_until_done()

    store = SentimentStore.open(pipe.settings.clickhouse.dsn)
    try:
        stored = {
            row[0]: row[1:]
            for row in store.query(
                "SELECT doc_id, story_id, novelty, duplicate_of, score FROM sentiment_docs FINAL"
            ).rows
        }
        mention_stories = store.query(
            "SELECT count(), uniqExact(doc_id), uniqExact(story_id) FROM sentiment_mentions FINAL"
        ).rows[0]
    finally:
        store.close()
    assert len(stored) == len(rows) + 1  # every record is stored, repeats included
    repeated.append([rows[-1]["doc_id"], "wire:copy-1"])
    for ids in repeated:  # partitions interleave: any one of a group may come first
        (first,) = (d for d in ids if stored[d][2] == "")
        assert stored[first][:2] == (first, 1.0)
        for doc_id in set(ids) - {first}:
            story_id, novelty, duplicate_of, score = stored[doc_id]
            assert (story_id, novelty) == (first, 0.0)
            assert duplicate_of in ids
            assert score == pytest.approx(stored[first][3])  # the cached verdict
    stories = {story for story, *_ in stored.values()}
    assert len(stories) < len(stored)
    assert mention_stories[2] < mention_stories[1]

    scored = [json.loads(m.value) for m in pipe.read_topic(pipe.settings.kafka.scored_topic)]
    spec = schema("scored-record.v1")
    for payload in scored:
        jsonschema.validate(payload, spec)
    assert {p["doc_id"]: p["story_id"] for p in scored} == {d: v[0] for d, v in stored.items()}
