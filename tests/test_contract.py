"""The scored-record contract, checked before the worker emits anything."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from streams.client import RecordFilter, decode_scored
from streams.contract import enforce_scored_contract
from streams.pipeline import BatchResult, Incoming
from tests.test_serve import scored


def _incoming(doc_id: str, offset: int) -> Incoming:
    value = json.dumps({"doc_id": doc_id, "kind": "news"}).encode()
    return Incoming(value, "news.raw", 0, offset, datetime.now(UTC))


def test_records_that_break_the_contract_become_dead_letters():
    good, bad = scored("good"), dataclasses.replace(scored("bad"), score=1.5, label="bullish")
    batch = [_incoming("good", 0), _incoming("bad", 1)]
    checked = enforce_scored_contract(BatchResult([good, bad], []), batch)
    assert checked.scored == [good]
    (rejected,) = checked.rejected
    assert rejected.incoming is batch[1]  # the original bytes go to the dead-letter topic
    assert rejected.error.stage == "classify" and rejected.error.doc_id == "bad"
    assert rejected.error.reason.startswith("scored record breaks scored-record.v1: ")


def test_a_clean_batch_passes_unchanged():
    result = BatchResult([scored("a"), scored("b")], [])
    assert enforce_scored_contract(result, []) is result


def test_subscribers_decode_what_the_worker_emits():
    record = scored("x", ("AAPL", "MSFT"), -0.7)
    decoded = decode_scored(record.to_bytes())
    assert decoded.to_json() == record.to_json()
    assert RecordFilter(frozenset({"MSFT"}), frozenset({"news"}), 0.6).matches(decoded)
    assert not RecordFilter(frozenset({"TSLA"})).matches(decoded)
    assert not RecordFilter(kinds=frozenset({"filing"})).matches(decoded)
    assert not RecordFilter(min_confidence=0.71).matches(decoded)
