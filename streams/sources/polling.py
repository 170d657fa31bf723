"""What live sources share: a polite HTTP client and a restart-safe memory of what was taken.

:class:`PoliteClient` sends a fixed User-Agent (the SEC requires one naming the requester and
a contact address) and spaces its requests to stay under a rate. :class:`SeenState` is a JSON
file under ``FINSENT_VAR/poll/``: the ids already sent, plus whatever cursor a source keeps.
It is written (atomically) only after the records it names are on Kafka, so a crash can
re-send a record (the store deduplicates on doc_id) but never skip one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.errors import ConfigError, FetchError

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Response:
    """A fetched resource: status 200 with its body, or 304 (not modified) / 404 without."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Poll:
    """What one poll found: records to send, the ids they stand for, the cursor after them."""

    records: list[dict[str, Any]]
    ids: list[str]
    cursor: dict[str, Any]


class PoliteClient:
    """HTTP GET with a User-Agent, at most ``max_rate`` requests per second (all threads)."""

    def __init__(self, user_agent: str, max_rate: float) -> None:
        if not user_agent.strip():
            raise ConfigError("a User-Agent is required (e.g. 'Example Corp admin@example.com')")
        if max_rate <= 0:
            raise ConfigError(f"the request rate must be positive, got {max_rate}")
        self.user_agent = user_agent
        self.interval = 1.0 / max_rate
        self._next = 0.0
        self._lock = threading.Lock()

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """Fetch ``url``; 200, 304 and 404 are answers, anything else raises FetchError."""
        self._wait_turn()
        sent = {"User-Agent": self.user_agent, "Accept-Encoding": "identity", **(headers or {})}
        request = urllib.request.Request(url, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return Response(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as exc:
            if exc.code in (304, 404):
                return Response(exc.code, b"", dict(exc.headers))
            raise FetchError(f"GET {url}: expected 200, got {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise FetchError(f"GET {url}: cannot reach the server: {exc}") from exc

    def _wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class SeenState:
    """The ids a source already sent (the most recent ``keep``) and its cursor, on disk."""

    def __init__(self, path: Path, keep: int = 100_000) -> None:
        self.path = path
        self.keep = keep
        self.cursor: dict[str, Any] = {}
        self._seen: dict[str, None] = {}  # insertion-ordered set
        if path.exists():
            try:
                saved = json.loads(path.read_text("utf-8"))
                self._seen = dict.fromkeys(saved["seen"])
                self.cursor = dict(saved.get("cursor", {}))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"state file {path} is not a finsent poll state ({exc}); move it away to "
                    "start afresh (everything still listed upstream is then sent again)"
                ) from exc

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def commit(self, ids: Iterable[str], cursor: Mapping[str, Any] | None = None) -> None:
        """Remember ``ids`` as sent and ``cursor``, then write the file (atomically)."""
        self._seen.update(dict.fromkeys(ids))
        for old in list(self._seen)[: max(0, len(self._seen) - self.keep)]:
            del self._seen[old]
        if cursor is not None:
            self.cursor = dict(cursor)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seen": list(self._seen), "cursor": self.cursor}), "utf-8")
        os.replace(tmp, self.path)
