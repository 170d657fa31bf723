"""The ``sentiment.scored`` contract, checked on every record before the worker emits it.

The contract is ``streams/schemas/scored-record.v1.json`` (``"schema": "finsent.scored.v1"``).
A record that breaks it is a bug on our side, never the subscriber's problem: it is neither
stored nor published, and goes to the dead-letter topic (stage ``classify``) with its input's
original bytes and the field that broke the contract.
"""

from __future__ import annotations

import logging

from streams.pipeline import BatchResult, Rejected
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


def enforce_scored_contract(result: BatchResult) -> BatchResult:
    """Keep the records that match the contract; turn the others into dead letters."""
    kept = BatchResult([], list(result.rejected), [])
    for record, incoming in zip(result.scored, result.inputs, strict=True):
        reason = contract_violation(record)
        if reason is None:
            kept.scored.append(record)
            kept.inputs.append(incoming)
            continue
        log.error("scored record %s breaks %s: %s", record.doc_id, SCORED_CONTRACT, reason)
        error = InvalidRecord(f"scored record breaks {SCORED_CONTRACT}: {reason}", "classify")
        error.doc_id = record.doc_id
        kept.rejected.append(Rejected(incoming, error))
    return kept
