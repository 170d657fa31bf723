"""Retention of the per-minute rollups (``deploy/clickhouse/003_minute_rollups.sql``)."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from streams.errors import ConfigError

log = logging.getLogger(__name__)

ROLLUP_TABLE = "sentiment_minute"


def apply_retention(client: Client, ttl_days: int) -> None:
    """Set the rollups' TTL to ``ttl_days`` after their minute, or remove it when 0.

    ClickHouse drops expired rows in its background merges (or at ``OPTIMIZE ... FINAL``).
    """
    if ttl_days < 0:
        raise ConfigError(f"FINSENT_ROLLUP_TTL_DAYS must be >= 0, got {ttl_days}")
    if ttl_days:
        client.command(f"ALTER TABLE {ROLLUP_TABLE} MODIFY TTL minute + toIntervalDay({ttl_days})")
        log.info("rollups keep %d days", ttl_days)
        return
    create = client.command(f"SHOW CREATE TABLE {ROLLUP_TABLE}")
    if "TTL" in str(create):
        client.command(f"ALTER TABLE {ROLLUP_TABLE} REMOVE TTL")
        log.info("rollups keep everything (TTL removed)")
