"""Live news from RSS / Atom feeds, parsed by feedparser.

Each poll fetches the feed (conditionally: the ETag and Last-Modified of the previous answer
are sent back, so an unchanged feed costs a 304) and returns the items not taken before, oldest
first. An item is known by its guid (Atom id), else its link.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from streams.errors import FetchError
from streams.records import RAW_SCHEMA, format_time
from streams.sources.polling import PoliteClient, Poll, SeenState

log = logging.getLogger(__name__)


def feed_records(content: bytes, source: str) -> list[tuple[str, dict[str, Any]]]:
    """(item id, wire-form raw record) for each item of an RSS or Atom document, oldest first.

    An item without a readable date is kept without ``published_at`` (the worker dead-letters
    it with the reason); one without a title or summary is kept too and rejected there.
    """
    parsed = feedparser.parse(content)
    if parsed.bozo and not parsed.entries:
        raise FetchError(f"{source}: not an RSS or Atom feed ({parsed.get('bozo_exception')})")
    out = []
    for entry in parsed.entries:
        item_id = entry.get("id") or entry.get("link") or entry.get("title", "")
        if not item_id:
            continue
        record: dict[str, Any] = {
            "schema": RAW_SCHEMA,
            "doc_id": f"{source}:{item_id}",
            "kind": "news",
            "source": source,
        }
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        if when is not None:
            record["published_at"] = format_time(datetime.fromtimestamp(calendar.timegm(when), UTC))
        for name, key in (("title", "title"), ("body", "summary"), ("url", "link")):
            if entry.get(key):
                record[name] = entry[key]
        out.append((item_id, record))
    out.sort(key=lambda pair: pair[1].get("published_at", "~"))
    return out


def feed_source_name(url: str) -> str:
    """``rss:<host>`` (the source column of the feed's records)."""
    return f"rss:{urlsplit(url).hostname or 'feed'}"


def state_name(url: str) -> str:
    """A file name for one feed's state."""
    return f"rss-{hashlib.blake2b(url.encode(), digest_size=8).hexdigest()}.json"


class FeedPoller:
    """Polls one feed URL."""

    family = "news"

    def __init__(self, client: PoliteClient, state: SeenState, url: str) -> None:
        self.client = client
        self.state = state
        self.url = url
        self.source = feed_source_name(url)

    def poll(self, *, limit: int | None = None) -> Poll:
        """The feed's items not taken yet, oldest first (at most ``limit``)."""
        headers = {}
        if etag := self.state.cursor.get("etag"):
            headers["If-None-Match"] = etag
        if modified := self.state.cursor.get("modified"):
            headers["If-Modified-Since"] = modified
        answer = self.client.get(self.url, headers)
        if answer.status == 304:
            return Poll([], [], self.state.cursor)
        if answer.status == 404:
            raise FetchError(f"GET {self.url}: expected a feed, got 404 Not Found")
        new = [(i, r) for i, r in feed_records(answer.body, self.source) if i not in self.state]
        if limit is not None:
            new = new[:limit]
        cursor = dict(self.state.cursor)
        if limit is None or len(new) < limit:  # everything taken: the next poll may be a 304
            lower = {k.lower(): v for k, v in answer.headers.items()}
            cursor = {"etag": lower.get("etag"), "modified": lower.get("last-modified")}
        return Poll([r for _, r in new], [i for i, _ in new], cursor)

    def commit(self, poll: Poll) -> None:
        """Record ``poll``'s items as sent (call after Kafka has them)."""
        self.state.commit(poll.ids, poll.cursor)
