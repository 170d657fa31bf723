"""Consumer-group progress: how far the worker's committed offsets trail the topics' ends."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError

# A new cluster has no group coordinator until the offsets topic exists: nothing is committed.
_NO_COMMITS_YET = (CoordinatorNotAvailableError, CoordinatorLoadInProgressError)


def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """Messages not yet committed by ``group``, per partition of ``topics``.

    A partition the group never committed counts in full (its lag is its end offset).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="finsent-lag")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="finsent-lag")
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        try:
            committed = admin.list_group_offsets(group).get(group, {})
        except _NO_COMMITS_YET:
            committed = {}
        lag = {}
        for tp in partitions:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else 0
            lag[tp] = max(0, ends[tp] - position)
        return lag
    finally:
        consumer.close()
        admin.close()
