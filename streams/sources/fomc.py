"""Replays of Federal Reserve communications under ``streams/fomc``.

Three kinds, each dated by its file name (the meeting date): post-meeting statements, meeting
minutes, and press-conference transcripts (one CSV row per sentence, with the speaker). The
records have kind ``fomc``, no ticker, and the Federal Reserve as the company.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from streams.records import RAW_SCHEMA
from streams.sources.base import Source

FED = "Federal Reserve"
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _fomc_record(kind: str, path: Path, title: str, sections: list[dict[str, str]]):
    match = _DATE.search(path.stem)
    record: dict[str, Any] = {
        "schema": RAW_SCHEMA,
        "doc_id": f"fomc-{kind}:{path.stem.lower()}",
        "kind": "fomc",
        "source": f"fomc-{kind}",
        "title": title,
        "sections": [s for s in sections if s["text"].strip()],
        "company": FED,
        "url": path.resolve().as_uri(),
    }
    if match:
        day = "-".join(match.groups())
        record["published_at"] = f"{day}T00:00:00.000Z"
        record["title"] = f"{title} {day}"
    return record


class _FomcFolder(Source):
    family = "fomc"
    pattern: ClassVar[str]

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.glob(self.pattern) if p.is_file())


class FomcStatementSource(_FomcFolder):
    """Post-meeting policy statements 1994-2016, one record each."""

    relative_path = "streams/fomc/statements_1994-2016"
    pattern = "*.txt"

    def _read(self) -> Iterator[dict[str, Any]]:
        for path in self._files():
            text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
            yield _fomc_record("statement", path, "FOMC statement", [_s("Statement", text)])


class FomcMinutesSource(_FomcFolder):
    """Minutes of the meetings 1996-2024 (one long paragraph each)."""

    relative_path = "streams/fomc/meeting_minutes"
    pattern = "*.txt"

    def _read(self) -> Iterator[dict[str, Any]]:
        for path in self._files():
            text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
            yield _fomc_record("minutes", path, "FOMC minutes", [_s("Minutes", text)])


class FomcPressConferenceSource(_FomcFolder):
    """Press-conference transcripts 2011-2022: the Chair's opening statement, then the Q&A."""

    relative_path = "streams/fomc/press_conference"
    pattern = "*.csv"

    def _read(self) -> Iterator[dict[str, Any]]:
        for path in self._files():
            with path.open(encoding="utf-8", errors="replace", newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if (r.get("sentence") or "").strip()]
            chair = rows[0]["speaker"] if rows else ""
            opening = 0
            while opening < len(rows) and rows[opening]["speaker"] == chair:
                opening += 1
            sections = [
                _s("Opening statement", " ".join(r["sentence"] for r in rows[:opening])),
                _s("Questions and answers", " ".join(r["sentence"] for r in rows[opening:])),
            ]
            yield _fomc_record("press", path, "FOMC press conference", sections)


def _s(name: str, text: str) -> dict[str, str]:
    return {"name": name, "text": text.strip()}
