"""The worker's Prometheus metrics: names defined once here, referred to by the dashboards.

One :class:`WorkerMetrics` per worker, on its own registry (no global state), fed by the
agent's batch hook and the worker's lag timer, served on ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from streams.pipeline import BatchResult

RECORDS = "finsent_records"  # counter, label outcome = scored | deadletter
BATCH_SIZE = "finsent_batch_size"  # histogram of records per classifier batch
LATENCY = "finsent_latency_seconds"  # histogram, read off Kafka -> scored
BATCH_SECONDS = "finsent_batch_seconds"  # histogram, one batch scored, stored, published
CONSUMER_LAG = "finsent_consumer_lag"  # gauge per topic/partition, records not yet committed


class WorkerMetrics:
    """Counters, histograms and gauges of one worker."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            RECORDS, "Records the worker finished, by outcome", ["outcome"], registry=self.registry
        )
        self.batch_size = Histogram(
            BATCH_SIZE,
            "Records per classifier batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.latency = Histogram(
            LATENCY,
            "Time from reading a record off Kafka to having its score",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            BATCH_SECONDS,
            "Time to score, store and publish one batch",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.lag = Gauge(
            CONSUMER_LAG,
            "Records on the raw topics not yet committed by the worker group",
            ["topic", "partition"],
            registry=self.registry,
        )
        for outcome in ("scored", "deadletter"):
            self.records.labels(outcome)

    def observe_batch(self, result: BatchResult, seconds: float) -> None:
        """Count one finished batch (the agent's hook)."""
        self.batch_size.observe(len(result.scored) + len(result.rejected))
        self.batch_seconds.observe(seconds)
        self.records.labels("scored").inc(len(result.scored))
        self.records.labels("deadletter").inc(len(result.rejected))
        for record in result.scored:
            self.latency.observe(record.latency_ms / 1000)

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the consumer-lag gauge with ``{(topic, partition): records}``."""
        for (topic, partition), value in lag.items():
            self.lag.labels(topic, str(partition)).set(value)

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
