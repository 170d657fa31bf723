"""Long documents through the worker: EDGAR HTML filings and FOMC texts, scored by section."""

from __future__ import annotations

import json

import jsonschema
import pytest
from test_worker import Pipeline

from streams.records import schema
from streams.sinks.clickhouse import SentimentStore
from streams.sources import get_source

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_filings_and_fomc_documents_are_stored_with_their_sections(
    kafka_bootstrap, served_model, data_dir, tmp_path
):
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    filings = get_source("filings", "edgar-html")(data_dir).records()
    fomc = get_source("fomc", "statements")(data_dir).records(limit=12)
    fomc += get_source("fomc", "press")(data_dir).records(limit=1)
    records = filings + fomc
    pipe.send(pipe.settings.kafka.filings_topic, [json.dumps(r).encode() for r in records])

    pipe.run_until_done()

    assert pipe.lag() == 0
    store = SentimentStore.open(pipe.settings.clickhouse.dsn)
    try:
        docs = store.query(
            "SELECT kind, count(), countIf(evidence_negative != '') FROM sentiment_docs FINAL "
            "GROUP BY kind ORDER BY kind"
        ).rows
        assert docs == [("filing", len(filings), len(filings)), ("fomc", len(fomc), len(fomc))]
        stored = store.query(
            "SELECT doc_id, section_index, section FROM sentiment_sections FINAL "
            "ORDER BY doc_id, section_index"
        ).rows
        expected = [
            (r["doc_id"], i, s["name"]) for r in records for i, s in enumerate(r["sections"])
        ]
        assert stored == sorted(expected)
        apple = store.query(
            "SELECT section, section_title, chunks, evidence_negative_score, score, "
            "evidence_positive_score, evidence_negative FROM sentiment_sections FINAL "
            "WHERE doc_id = 'edgar:320193:10-K:2024-09-28' ORDER BY section_index"
        ).rows
        assert [row[0] for row in apple] == ["Item 1", "Item 1A", "Item 3", "Item 7", "Item 7A"]
        risk = apple[1]
        assert risk[1] == "Risk Factors" and risk[2] > 50
        for _, _, _, lowest, _, highest, negative in apple:
            assert lowest <= highest and negative  # a real sentence, scored on its own
        assert risk[3] < -0.5  # risk factors hold clearly negative sentences
        fed = store.query(
            "SELECT count() FROM sentiment_docs FINAL WHERE kind = 'fomc' AND length(tickers) = 0"
        ).rows[0][0]
        assert fed == len(fomc)
    finally:
        store.close()

    spec = schema("scored-record.v1")
    scored = [json.loads(m.value) for m in pipe.read_topic(pipe.settings.kafka.scored_topic)]
    assert len(scored) == len(records)
    for payload in scored:
        jsonschema.validate(payload, spec)
        assert payload["sections"], payload["doc_id"]
        weights = [len(s["evidence"]) for s in payload["sections"]]
        assert all(w == 2 for w in weights)
