"""Open the store for reading, through the running worker when it owns the embedded engine."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from streams.errors import StoreError
from streams.serve import discover
from streams.settings import Settings
from streams.sinks.clickhouse import SentimentStore

log = logging.getLogger(__name__)


def open_reader(settings: Settings) -> SentimentStore:
    """A store to query: the worker's HTTP endpoint when a worker runs on the embedded store
    (chDB admits one process), else the store itself (``FINSENT_CLICKHOUSE``)."""
    path = settings.clickhouse.embedded_path
    url = discover(settings.var_dir, path) if path is not None else None
    if url is None:
        return SentimentStore.open(settings.clickhouse.dsn)
    where = urlsplit(url)
    log.info("the worker owns %s; querying it at %s", path, url)
    try:
        client = clickhouse_connect.get_client(
            host=where.hostname, port=where.port, autogenerate_session_id=False
        )
    except ClickHouseError as exc:
        raise StoreError(f"the worker at {url} owns {path} but does not answer: {exc}") from exc
    return SentimentStore(client)
