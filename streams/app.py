"""The Faust application and its topics, built from settings (nothing at import time)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.broker import DEADLETTER_MAX_BYTES
from streams.settings import Settings


@dataclass(frozen=True)
class Topics:
    """The topics the worker reads and writes. Values are raw bytes: decoding is ours."""

    raw: faust.TopicT  # news.raw and filings.raw, one channel
    scored: faust.TopicT
    deadletter: faust.TopicT


def create_app(settings: Settings, bootstrap: str) -> tuple[faust.App, Topics]:
    """A Faust app for the scoring worker and its topics.

    Values and keys stay bytes (``raw``) so that a malformed record reaches our own decoder,
    which dead-letters it, instead of Faust's, which would end the agent.
    """
    kafka = settings.kafka
    app = faust.App(
        kafka.consumer_group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A killed worker's partitions move to the others after this long (Faust default: 60 s).
        broker_session_timeout=15.0,
        producer_max_request_size=DEADLETTER_MAX_BYTES,
        web_enabled=False,
        autodiscover=False,
    )
    topics = Topics(
        raw=app.topic(kafka.news_topic, kafka.filings_topic, partitions=kafka.partitions),
        scored=app.topic(kafka.scored_topic, partitions=kafka.partitions),
        deadletter=app.topic(kafka.deadletter_topic, partitions=kafka.partitions),
    )
    return app, topics
