"""Replays of the news files under ``streams/news``."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pandas as pd

from streams.records import RAW_SCHEMA, format_time, parse_time
from streams.sources.base import Source


def _text(value: Any) -> str:
    return "" if pd.isna(value) else str(value)


def _iso(value: Any) -> str | None:
    """A timestamp cell as RFC 3339 UTC, or None when the cell holds no readable time."""
    text = _text(value).strip()
    if not text:
        return None
    try:
        return format_time(parse_time(text))
    except ValueError:
        pass
    try:
        return format_time(parsedate_to_datetime(text))
    except (TypeError, ValueError):
        return None


def _record(source: str, row_id: Any, *, published: Any, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema": RAW_SCHEMA,
        "doc_id": f"{source}:{row_id}",
        "kind": "news",
        "source": source,
    }
    if (published_at := _iso(published)) is not None:
        record["published_at"] = published_at
    record.update({k: v for k, v in fields.items() if v not in (None, "", [])})
    return record


class BenzingaSource(Source):
    """Benzinga analyst-rating headlines: one ticker each, offset-aware timestamps."""

    family = "news"
    relative_path = (
        "streams/news/benzinga_analyst_ratings_sample/analyst_ratings_processed_first9993.csv"
    )

    def _read(self) -> Iterator[dict[str, Any]]:
        frame = pd.read_csv(self.path, dtype=str, keep_default_na=False, na_values=[""])
        for row_id, row in frame.iterrows():
            ticker = _text(row["stock"]).strip()
            yield _record(
                "benzinga", row_id, published=row["date"], title=_text(row["title"]),
                tickers=[ticker] if ticker else [],
            )  # fmt: skip


class SeekingAlphaSource(Source):
    """Seeking Alpha article summaries with ticker and author."""

    family = "news"
    relative_path = "streams/news/seeking_alpha_summaries/seeking_alpha_articles_new.csv"

    def _read(self) -> Iterator[dict[str, Any]]:
        frame = pd.read_csv(self.path, dtype=str, keep_default_na=False, na_values=[""])
        for row_id, row in frame.iterrows():
            ticker = _text(row["ticker"]).strip()
            yield _record(
                "seekingalpha", row_id, published=row["date"], body=_text(row["summary"]),
                tickers=[ticker] if ticker else [],
            )  # fmt: skip


class BbcSource(Source):
    """BBC business RSS items: no tickers, RFC 2822 dates."""

    family = "news"
    relative_path = "streams/news/bbc_business_rss/bbc_business_rss_2022-2024.csv"

    def _read(self) -> Iterator[dict[str, Any]]:
        frame = pd.read_csv(self.path, dtype=str, keep_default_na=False, na_values=[""])
        for row_id, row in frame.iterrows():
            yield _record(
                "bbc", row_id, published=row["pubDate"], title=_text(row["title"]),
                body=_text(row["description"]), url=_text(row["link"]) or None,
            )  # fmt: skip
