"""Replays of the pre-split SEC filings under ``streams/filings``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from streams.records import RAW_SCHEMA
from streams.sources.base import Source


class Sec8kSource(Source):
    """8-K filings with one field per item (``item_2.02`` …); empty items are left out."""

    family = "filings"
    relative_path = "streams/filings/sec_8k_items.jsonl"

    def _read(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                filing = json.loads(line)
                accession = (
                    filing["filing_html_index"].rsplit("/", 1)[-1].removesuffix("-index.html")
                )
                sections = [
                    {"name": key.replace("_", " ").title(), "text": text}
                    for key, text in filing.items()
                    if key.startswith("item_") and text and text.strip()
                ]
                yield {
                    "schema": RAW_SCHEMA,
                    "doc_id": f"sec-8k:{accession}",
                    "kind": "filing",
                    "source": "sec-8k",
                    "published_at": f"{filing['filing_date']}T00:00:00.000Z",
                    "title": f"{filing['company']} {filing['filing_type']} {filing['filing_date']}",
                    "sections": sections,
                    "cik": str(int(filing["cik"])),
                    "company": filing["company"],
                    "form": filing["filing_type"],
                    "url": filing.get("htm_filing_link"),
                }
