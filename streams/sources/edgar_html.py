"""Replays of raw EDGAR documents: inline-XBRL HTML, exhibits and full-text submissions.

A folder is replayed one filing per record. An exhibit saved beside its filing
(``BuckleInc.8-K.html`` and ``BuckleInc.8-K.EX99.1.html``) joins that filing's record as a
section; a full-text submission (``.txt`` with ``<DOCUMENT>`` blocks) carries its own exhibits.
Only the sections worth scoring are sent (``ParsedFiling.focus_sections``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from features.edgar import FilingSection, ParsedFiling, parse_filing
from streams.records import RAW_SCHEMA
from streams.sources.base import Source

log = logging.getLogger(__name__)

SUFFIXES = (".htm", ".html", ".txt")
# "Name.8-K.EX99.1.html" belongs to "Name.8-K.html".
_EXHIBIT_NAME = re.compile(r"^(?P<filing>.+?)\.(?P<exhibit>EX-?\d+(?:\.\d+)?)$", re.IGNORECASE)


def filing_record(parsed: ParsedFiling, *, doc_id: str, url: str | None = None) -> dict[str, Any]:
    """The wire-form raw record of a parsed filing (no ``published_at`` when it has no date)."""
    when = parsed.filed or parsed.period
    form = parsed.form or "filing"
    record: dict[str, Any] = {
        "schema": RAW_SCHEMA,
        "doc_id": doc_id,
        "kind": "filing",
        "source": "edgar-html",
        "title": " ".join(str(p) for p in (parsed.company, form, when) if p),
        "sections": [_section(s) for s in parsed.focus_sections()],
        "form": form,
    }
    if when is not None:
        record["published_at"] = f"{when.isoformat()}T00:00:00.000Z"
    for name, value in (("cik", parsed.cik), ("company", parsed.company), ("url", url)):
        if value:
            record[name] = value
    return record


def _section(section: FilingSection) -> dict[str, str]:
    return {"name": section.name, "title": section.title, "text": section.text}


class EdgarHtmlSource(Source):
    """Every EDGAR HTML / full-text file in a folder, exhibits attached to their filing."""

    family = "filings"
    relative_path = "streams/filings/edgar_html"

    def _read(self) -> Iterator[dict[str, Any]]:
        files = [self.path] if self.path.is_file() else sorted(self.path.iterdir())
        files = [f for f in files if f.suffix.lower() in SUFFIXES and f.is_file()]
        exhibits: dict[str, list[Path]] = {}
        filings: list[Path] = []
        for path in files:
            match = _EXHIBIT_NAME.match(path.stem)
            if match:
                exhibits.setdefault(match["filing"].lower(), []).append(path)
            else:
                filings.append(path)
        for path in filings:
            parsed = _parse(path)
            if parsed is None:
                continue
            extra = [
                s
                for e in exhibits.pop(path.stem.lower(), [])
                if (p := _parse(e))
                for s in p.sections
            ]
            yield self._record(path, parsed, extra)
        for leftover in (p for group in exhibits.values() for p in group):
            if (parsed := _parse(leftover)) is not None:  # an exhibit whose filing is absent
                yield self._record(leftover, parsed, [])

    def _record(
        self, path: Path, parsed: ParsedFiling, exhibits: list[FilingSection]
    ) -> dict[str, Any]:
        if exhibits:
            parsed = replace(parsed, sections=parsed.sections + tuple(exhibits))
        ident = parsed.accession or ":".join(
            str(p)
            for p in (parsed.cik or path.stem, parsed.form, parsed.filed or parsed.period)
            if p
        )
        return filing_record(parsed, doc_id=f"edgar:{ident}", url=path.resolve().as_uri())


def _parse(path: Path) -> ParsedFiling | None:
    content = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".txt" and "<DOCUMENT>" not in content.upper():
        log.info("skipping %s: not an EDGAR full-text submission", path.name)
        return None
    return parse_filing(content)
