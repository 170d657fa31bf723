"""Sentiment history as pandas DataFrames, for analysts and notebooks.

    from streams.history import History

    with History.open() as history:
        history.example("daily_series", ticker="ABX")
        history.sql("SELECT count() FROM sentiment_docs FINAL")

The store is the one ``FINSENT_CLICKHOUSE`` names; while a worker owns the embedded store the
queries go through the worker's read-only HTTP endpoint.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

import pandas as pd

from streams.errors import StoreError
from streams.queries import example
from streams.reader import open_reader
from streams.settings import Settings, load_settings
from streams.sinks.clickhouse import SentimentStore


def _text(value: Any) -> str | None:
    """A parameter value in the text form the engine parses for the declared type."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class History:
    """Read-only queries over the store; every method returns a DataFrame."""

    def __init__(self, store: SentimentStore) -> None:
        self.store = store

    @classmethod
    def open(cls, settings: Settings | None = None) -> History:
        """Open the store named by ``settings`` (default: the FINSENT_* environment)."""
        return cls(open_reader(settings or load_settings()))

    def sql(self, query: str, **params: Any) -> pd.DataFrame:
        """Run ``query`` with ``{name:Type}`` placeholders bound to ``params``."""
        return self.store.query_df(query, {k: _text(v) for k, v in params.items()})

    def example(self, name: str, **params: Any) -> pd.DataFrame:
        """Run the named example (``finsent sql --list-examples``) with ``params``."""
        named = example(name)
        bound = named.bind({k: _text(v) for k, v in params.items() if v is not None})
        return self.store.query_df(named.sql, bound)

    def series(self, ticker: str, since: datetime | None = None, *, daily: bool = False):
        """Documents and average score of ``ticker`` per minute (or per day), oldest first."""
        frame = self.example(
            "daily_series" if daily else "minute_series", ticker=ticker, since=since
        )
        if frame.empty:
            raise StoreError(
                f"no documents mention {ticker!r}" + (f" since {since}" if since else "")
            )
        return frame

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
