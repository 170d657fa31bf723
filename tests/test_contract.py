"""The scored-record contract, checked before the worker emits anything."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from models import Evidence
from streams.client import RecordFilter, decode_scored
from streams.contract import enforce_scored_contract
from streams.pipeline import BatchResult, Incoming
from streams.records import EntityScore, SectionScore
from tests.test_serve import scored


def _incoming(doc_id: str, offset: int) -> Incoming:
    value = json.dumps({"doc_id": doc_id, "kind": "news"}).encode()
    return Incoming(value, "news.raw", 0, offset, datetime.now(UTC))


def test_records_that_break_the_contract_become_dead_letters():
    good, bad = scored("good"), dataclasses.replace(scored("bad"), score=1.5, label="bullish")
    batch = [_incoming("good", 0), _incoming("bad", 1)]
    checked = enforce_scored_contract(BatchResult([good, bad], [], batch))
    assert checked.scored == [good] and checked.inputs == batch[:1]
    (rejected,) = checked.rejected
    assert rejected.incoming is batch[1]  # the original bytes go to the dead-letter topic
    assert rejected.error.stage == "classify" and rejected.error.doc_id == "bad"
    assert rejected.error.reason.startswith("scored record breaks scored-record.v1: ")


def test_a_clean_batch_passes_unchanged():
    batch = [_incoming("a", 0), _incoming("b", 1)]
    result = BatchResult([scored("a"), scored("b")], [], batch)
    assert enforce_scored_contract(result) == result


def test_subscribers_decode_what_the_worker_emits():
    record = scored("x", ("AAPL", "MSFT"), -0.7)
    decoded = decode_scored(record.to_bytes())
    assert decoded.to_json() == record.to_json()
    section = SectionScore(
        "Item 2.02", "Results of Operations", "negative", 0.8, 0.15, 0.05, -0.75, 0.8, 2,
        (Evidence("Net sales fell 12%.", -0.9),),
    )  # fmt: skip
    filing = dataclasses.replace(
        scored("f", ("AAPL",), -0.7, kind="filing"),
        form="8-K",
        sections=(section,),
        entities=(EntityScore("AAPL", 0.9, 3, -0.6, "negative"),),
        story_id="e",
        novelty=0.25,
        duplicate_of="e",
    )
    back = decode_scored(filing.to_bytes())
    assert back.to_json() == filing.to_json()  # every optional field comes back
    assert (back.sections, back.entities, back.form) == (filing.sections, filing.entities, "8-K")
    assert RecordFilter(frozenset({"MSFT"}), frozenset({"news"}), 0.6).matches(decoded)
    assert not RecordFilter(frozenset({"TSLA"})).matches(decoded)
    assert not RecordFilter(kinds=frozenset({"filing"})).matches(decoded)
    assert not RecordFilter(min_confidence=0.71).matches(decoded)
