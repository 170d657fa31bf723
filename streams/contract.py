"""The ``sentiment.scored`` contract, checked on every record before the worker emits it.

The contract is ``streams/schemas/scored-record.v1.json`` (``"schema": "finsent.scored.v1"``).
A record that breaks it is a bug on our side, never the subscriber's problem: it is neither
stored nor published, and goes to the dead-letter topic (stage ``classify``) with its input's
original bytes and the field that broke the contract.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from streams.pipeline import BatchResult, Incoming, Rejected
from streams.records import InvalidRecord, ScoredRecord, validate

log = logging.getLogger(__name__)

SCORED_CONTRACT = "scored-record.v1"


def contract_violation(record: ScoredRecord) -> str | None:
    """Why ``record`` breaks the scored contract, or None when it keeps it."""
    try:
        validate(SCORED_CONTRACT, record.to_json())
    except InvalidRecord as error:
        return error.reason
    return None


def _doc_id(incoming: Incoming) -> str | None:
    try:
        payload = json.loads(incoming.value or b"")
    except ValueError:
        return None
    return payload.get("doc_id") if isinstance(payload, dict) else None


def enforce_scored_contract(result: BatchResult, batch: Sequence[Incoming]) -> BatchResult:
    """Keep the records that match the contract; turn the others into dead letters."""
    kept: list[ScoredRecord] = []
    broken: list[tuple[ScoredRecord, str]] = []
    for record in result.scored:
        reason = contract_violation(record)
        if reason is None:
            kept.append(record)
        else:
            broken.append((record, reason))
    if not broken:
        return result
    by_doc = {_doc_id(incoming): incoming for incoming in batch}
    rejected = list(result.rejected)
    for record, reason in broken:
        log.error("scored record %s breaks %s: %s", record.doc_id, SCORED_CONTRACT, reason)
        error = InvalidRecord(f"scored record breaks {SCORED_CONTRACT}: {reason}", "classify")
        error.doc_id = record.doc_id
        rejected.append(Rejected(by_doc[record.doc_id], error))
    return BatchResult(kept, rejected)
