"""Publishing raw records to Kafka at a chosen rate, with a progress bar."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from tqdm import tqdm

from streams.errors import BrokerError

log = logging.getLogger(__name__)


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[dict[str, Any]],
    *,
    rate: float | None = None,
    progress: bool = True,
) -> int:
    """Send ``records`` (wire-form dicts) to ``topic``, keyed by doc_id; return how many landed.

    ``rate`` caps records per second (None: as fast as the broker takes them). Returns only
    after every record is acknowledged by the broker (acks=all, idempotent producer).
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, compression_type="gzip"
    )
    failures: list[BaseException] = []
    interval = 1.0 / rate if rate else 0.0
    started = time.monotonic()
    try:
        for i, record in enumerate(tqdm(records, desc=topic, unit="rec", disable=not progress)):
            if interval:
                delay = started + i * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            key = str(record.get("doc_id", "")).encode()
            value = json.dumps(record, ensure_ascii=False).encode("utf-8")
            producer.send(topic, key=key, value=value).add_errback(failures.append)
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"producing to {topic} at {bootstrap} failed: {exc}") from exc
    finally:
        producer.close()
    if failures:
        raise BrokerError(f"{len(failures)} of {len(records)} records not delivered: {failures[0]}")
    return len(records)
