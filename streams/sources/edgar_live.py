"""Live EDGAR filings: poll the SEC's daily form index, fetch the new filings of chosen forms.

Each day's ``form.YYYYMMDD.idx`` (under ``/Archives/edgar/daily-index/YYYY/QTRn/``) lists
that day's filings with form, company, CIK and the full-text submission's path. The poller
reads the days from its cursor up to today, keeps the rows of the chosen forms (and CIKs),
fetches each filing not taken before and parses it like ``--source edgar-html``. A day whose
index was read is done; a day without one (a weekend, a holiday, today before the SEC
publishes it) is asked again until it is ``LOOKBACK_DAYS`` old.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from features.edgar import parse_filing
from streams.sources.edgar_html import filing_record
from streams.sources.polling import PoliteClient, Poll, SeenState

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 3
_ROW_TAIL = re.compile(r"(?P<cik>\d+)\s+(?P<filed>\d{8})\s+(?P<path>edgar/\S+)\s*$")


def edgar_state_name(forms: Collection[str], ciks: Collection[str]) -> str:
    """A state file name per choice of forms and CIKs (another choice starts its own cursor)."""
    key = ",".join(sorted(f.upper() for f in forms)) + "|" + ",".join(sorted(ciks))
    return f"edgar-{hashlib.blake2b(key.encode(), digest_size=8).hexdigest()}.json"


@dataclass(frozen=True)
class IndexRow:
    """One filing listed in a daily index."""

    form: str
    company: str
    cik: str
    filed: date
    path: str  # edgar/data/<cik>/<accession>.txt

    @property
    def accession(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".txt")


def parse_index(text: str) -> list[IndexRow]:
    """The rows of a daily ``form.*.idx`` or ``company.*.idx`` file (fixed-width columns)."""
    lines = text.splitlines()
    header = next(
        (n for n, line in enumerate(lines) if "Form Type" in line and "Company Name" in line),
        None,
    )
    if header is None:
        raise ValueError("not an EDGAR daily index: no 'Form Type' / 'Company Name' header")
    head = lines[header]
    starts = sorted((head.index(name), name) for name in ("Form Type", "Company Name"))
    tail_at = head.index("CIK") if "CIK" in head else None
    rows = []
    for line in lines[header + 1 :]:
        match = _ROW_TAIL.search(line)
        if match is None or line.startswith("---"):
            continue
        end = tail_at if tail_at is not None else match.start()
        cols = {
            name: line[at : (starts[i + 1][0] if i + 1 < len(starts) else end)].strip()
            for i, (at, name) in enumerate(starts)
        }
        rows.append(
            IndexRow(
                form=cols["Form Type"],
                company=cols["Company Name"],
                cik=str(int(match["cik"])),
                filed=datetime.strptime(match["filed"], "%Y%m%d").date(),
                path=match["path"],
            )
        )
    return rows


def index_url(base_url: str, day: date) -> str:
    """Where the SEC publishes ``day``'s form index."""
    quarter = (day.month - 1) // 3 + 1
    return f"{base_url}/Archives/edgar/daily-index/{day.year}/QTR{quarter}/form.{day:%Y%m%d}.idx"


class EdgarPoller:
    """Polls the daily form index for ``forms`` (and ``ciks``, when given)."""

    family = "filings"

    def __init__(
        self,
        client: PoliteClient,
        state: SeenState,
        *,
        base_url: str,
        forms: Collection[str],
        ciks: Collection[str] = (),
        since: date | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.base_url = base_url.rstrip("/")
        self.forms = {f.upper() for f in forms}
        self.ciks = {str(int(c)) for c in ciks}
        self.since = since

    def poll(self, *, today: date | None = None, limit: int | None = None) -> Poll:
        """The filings not taken yet, oldest day first (at most ``limit``)."""
        today = today or datetime.now(UTC).date()
        first = date.fromisoformat(self.state.cursor["next_day"]) if self.state.cursor else None
        day = first or self.since or today - timedelta(days=1)
        records: list[dict[str, Any]] = []
        ids: list[str] = []
        next_day: date | None = None  # the first day not finished
        while day <= today:
            rows, finished = self._day(day, today)
            for row in rows:
                if limit is not None and len(records) >= limit:
                    finished = False
                    break
                if (record := self._record(row)) is None:
                    finished = False  # the day is read again next poll; the rest stay seen
                else:
                    records.append(record)
                    ids.append(row.accession)
            if not finished and next_day is None:
                next_day = day
            if limit is not None and len(records) >= limit:
                break
            day += timedelta(days=1)
        cursor = {"next_day": (next_day or day).isoformat()}
        return Poll(records, ids, cursor)

    def commit(self, poll: Poll) -> None:
        """Record ``poll``'s filings as sent (call after Kafka has them)."""
        self.state.commit(poll.ids, poll.cursor)

    def _day(self, day: date, today: date) -> tuple[Iterator[IndexRow], bool]:
        answer = self.client.get(index_url(self.base_url, day))
        if answer.status == 404:
            log.info("no EDGAR form index for %s (yet)", day)
            return iter(()), day < today - timedelta(days=LOOKBACK_DAYS)
        rows = parse_index(answer.body.decode("latin-1"))
        wanted = (
            r
            for r in rows
            if r.form.upper() in self.forms
            and (not self.ciks or r.cik in self.ciks)
            and r.accession not in self.state
        )
        return wanted, True

    def _record(self, row: IndexRow) -> dict[str, Any] | None:
        url = f"{self.base_url}/Archives/{row.path}"
        answer = self.client.get(url)
        if answer.status != 200:
            log.warning(
                "%s is listed in the index but answers %d; asked again next poll",
                url,
                answer.status,
            )
            return None
        parsed = parse_filing(answer.body.decode("utf-8", errors="replace"))
        parsed = replace(
            parsed,
            form=parsed.form or row.form,
            cik=parsed.cik or row.cik,
            company=parsed.company or row.company,
            filed=parsed.filed or row.filed,
        )
        record = filing_record(parsed, doc_id=f"edgar:{row.accession}", url=url)
        record["source"] = "edgar-live"
        return record
