"""The scoring agent: batches from the raw topics → Scorer → ClickHouse → scored topic → ack.

Delivery: an input's offset is acknowledged (and so committed by Faust) only after its
document is in ClickHouse and on ``sentiment.scored``, or its dead letter is on
``sentiment.deadletter``. A ClickHouse or Kafka outage stalls the agent and retries; it never
skips.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import faust
from aiokafka.errors import KafkaError

from streams.app import Topics
from streams.contract import enforce_scored_contract
from streams.errors import StoreError
from streams.pipeline import BatchResult, Incoming, Scorer
from streams.records import deadletter_bytes
from streams.settings import WorkerSettings
from streams.sinks.clickhouse import SentimentStore

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


def _incoming(event: faust.EventT, received_at: datetime) -> Incoming:
    message = event.message
    return Incoming(message.value, message.topic, message.partition, message.offset, received_at)


class ScoringAgent:
    """Holds the agent's collaborators; :meth:`attach` registers it on a Faust app."""

    def __init__(
        self,
        scorer: Scorer,
        store: SentimentStore,
        topics: Topics,
        batching: WorkerSettings,
        on_batch: Callable[[BatchResult, float], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.store = store
        self.topics = topics
        self.batching = batching
        self.on_batch = on_batch
        # ONNX Runtime and chDB release the GIL: run them off the event loop so that
        # heartbeats and fetches continue. One store thread: the chDB client is not shared.
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="finsent-model")
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="finsent-store")

    def attach(self, app: faust.App) -> None:
        """Register the agent on ``app``'s raw topics."""
        app.agent(self.topics.raw, name="score")(self._run)

    async def _run(self, stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.noack_take(
            self.batching.batch_max, self.batching.batch_within_s
        ):
            received_at = datetime.now(UTC)
            started = time.monotonic()
            batch = [_incoming(e, received_at) for e in events]
            result = await loop.run_in_executor(self._model_thread, self.scorer.score, batch)
            result = enforce_scored_contract(result)
            await self._store(loop, result)
            await self._publish(result)
            for event in events:
                await stream.ack(event)
            log.info("batch: %d scored, %d dead-lettered", len(result.scored), len(result.rejected))
            if self.on_batch:
                self.on_batch(result, time.monotonic() - started)

    async def _store(self, loop: asyncio.AbstractEventLoop, result: BatchResult) -> None:
        await _retry_forever(
            lambda: loop.run_in_executor(self._store_thread, self.store.write, result.scored),
            what=f"store {len(result.scored)} documents",
            errors=(StoreError,),
        )

    async def _publish(self, result: BatchResult) -> None:
        """Send the batch's scored records and dead letters; a broker that fails the sends
        gets the whole batch again until it takes it (at least once)."""
        await _retry_forever(
            lambda: self._send(result),
            what=f"publish {len(result.scored)} records, {len(result.rejected)} dead letters",
            errors=(KafkaError,),
        )

    async def _send(self, result: BatchResult) -> None:
        pending = [
            await self.topics.scored.send(key=record.key, value=record.to_bytes(), force=True)
            for record in result.scored
        ]
        for rejected in result.rejected:
            value = deadletter_bytes(
                rejected.error,
                original=rejected.incoming.value,
                topic=rejected.incoming.topic,
                partition=rejected.incoming.partition,
                offset=rejected.incoming.offset,
            )
            log.warning(
                "dead letter %s[%d]@%d: %s", rejected.incoming.topic, rejected.incoming.partition,
                rejected.incoming.offset, rejected.error.reason,
            )  # fmt: skip
            pending.append(await self.topics.deadletter.send(value=value, force=True))
        await asyncio.gather(*pending)  # delivered (acks=all) before the inputs are acked

    def close(self) -> None:
        """Stop the helper threads."""
        self._model_thread.shutdown()
        self._store_thread.shutdown()


async def _retry_forever(
    attempt: Callable[[], Awaitable[None]], *, what: str, errors: tuple[type[Exception], ...]
) -> None:
    delay = RETRY_FIRST_S
    while True:
        try:
            await attempt()
            return
        except errors as exc:
            log.error("cannot %s (retrying in %.1fs): %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
