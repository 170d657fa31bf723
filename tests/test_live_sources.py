"""Live sources over real HTTP: a server on 127.0.0.1 serving the real EDGAR daily index and
filing HTML, and an RSS feed built from real BBC items."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from kafka import KafkaConsumer

from streams.records import decode_raw, format_time
from streams.settings import load_settings
from streams.sources.edgar_live import EdgarPoller, parse_index
from streams.sources.polling import PoliteClient, SeenState
from streams.sources.rss import FeedPoller

USER_AGENT = "finsent tests admin@example.com"
DAY = date(2020, 3, 18)
INDEX_PATH = "/Archives/edgar/daily-index/2020/QTR1/form.20200318.idx"
# Real filing HTML served in place of the listed submissions (the index's own files are not
# in the data folder).
FILING_FILES = ("form8k.Nordstrom.html", "Oracle.8-K.html", "1800Flowers.8-K.html")


class Server:
    """An http.server in a thread; ``routes`` maps a path to (bytes, ETag); logs each request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((time.monotonic(), self.path, dict(self.headers)))
                if self.path not in outer.routes:
                    self.send_error(404)
                    return
                body, etag = outer.routes[self.path]
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def edgar_dir(data_dir: Path) -> Path:
    return data_dir / "streams" / "filings" / "edgar_html"


def test_daily_indexes_parse(edgar_dir):
    form_text = (edgar_dir / "form.20200318.idx").read_text("latin-1")
    company_text = (edgar_dir / "company.20221003.idx").read_text("latin-1")
    by_form, by_company = parse_index(form_text), parse_index(company_text)
    assert len(by_form) == form_text.count("edgar/data/") == 4084
    assert len(by_company) == company_text.count("edgar/data/") == 4925
    first = by_form[0]
    assert (first.form, first.company, first.cik, first.filed) == (
        "1-A", "DLP Positive Note Fund LLC", "1806014", DAY,
    )  # fmt: skip
    assert first.accession == "0001140361-20-006155"
    assert {"1-A POS", "8-K", "10-K", "4"} <= {r.form for r in by_form}
    assert by_company[0].company == "1st stREIT Office Inc." and by_company[0].form == "1-A POS"
    assert all(r.cik.isdigit() and r.path.startswith("edgar/data/") for r in by_company)


def _edgar_poller(server: Server, state_path: Path, ciks: list[str], rate: float) -> EdgarPoller:
    return EdgarPoller(
        PoliteClient(USER_AGENT, rate),
        SeenState(state_path),
        base_url=server.url,
        forms=["8-K"],
        ciks=ciks,
        since=DAY,
    )


def test_edgar_poller_is_polite_and_restart_safe(server, edgar_dir, tmp_path):
    index = (edgar_dir / "form.20200318.idx").read_bytes()
    eight_ks = [r for r in parse_index(index.decode("latin-1")) if r.form == "8-K"][:3]
    server.routes[INDEX_PATH] = (index, "")
    for row, name in zip(eight_ks, FILING_FILES, strict=True):
        server.routes[f"/Archives/{row.path}"] = ((edgar_dir / name).read_bytes(), "")
    ciks = [r.cik for r in eight_ks]
    state = tmp_path / "edgar.json"
    rate = 4.0

    first = _edgar_poller(server, state, ciks, rate).poll(today=DAY, limit=2)
    _edgar_poller(server, state, ciks, rate).commit(first)  # as after Kafka took them
    assert [r["doc_id"] for r in first.records] == [f"edgar:{r.accession}" for r in eight_ks[:2]]
    for record in first.records:
        parsed = decode_raw(json.dumps(record).encode())  # the raw-record contract
        assert parsed.source == "edgar-live" and parsed.kind == "filing"
        assert parsed.sections and all(s.text for s in parsed.sections)

    # A restart: a new poller reading the state file takes only what is left.
    second = _edgar_poller(server, state, ciks, rate)
    rest = second.poll(today=DAY)
    second.commit(rest)
    assert [r["doc_id"] for r in rest.records] == [f"edgar:{eight_ks[2].accession}"]
    asked = len(server.requests)
    again = _edgar_poller(server, state, ciks, rate).poll(today=DAY)
    assert again.records == [] and len(server.requests) == asked  # the day is done

    # The next day: no index yet (404), asked again on the following poll.
    tomorrow = _edgar_poller(server, state, ciks, rate).poll(today=date(2020, 3, 19))
    assert tomorrow.records == [] and tomorrow.cursor == {"next_day": "2020-03-19"}

    paths = [path for _, path, _ in server.requests]
    assert paths.count(INDEX_PATH) == 2  # once per poll of the 18th, never after
    filings = sorted(p for p in paths if p.startswith("/Archives/edgar/data/"))
    assert filings == sorted(f"/Archives/{r.path}" for r in eight_ks)  # each fetched once
    assert all(headers["User-Agent"] == USER_AGENT for _, _, headers in server.requests)


def test_edgar_poller_asks_again_for_a_filing_that_failed(server, edgar_dir, tmp_path):
    index = (edgar_dir / "form.20200318.idx").read_bytes()
    late, ok = [r for r in parse_index(index.decode("latin-1")) if r.form == "8-K"][:2]
    server.routes[INDEX_PATH] = (index, "")
    server.routes[f"/Archives/{ok.path}"] = ((edgar_dir / FILING_FILES[0]).read_bytes(), "")
    state = tmp_path / "edgar.json"
    ciks = [late.cik, ok.cik]

    first = _edgar_poller(server, state, ciks, 20.0).poll(today=date(2020, 3, 20))
    _edgar_poller(server, state, ciks, 20.0).commit(first)
    assert [r["doc_id"] for r in first.records] == [f"edgar:{ok.accession}"]
    assert first.cursor == {"next_day": DAY.isoformat()}  # the 18th is not finished

    server.routes[f"/Archives/{late.path}"] = ((edgar_dir / FILING_FILES[1]).read_bytes(), "")
    second = _edgar_poller(server, state, ciks, 20.0).poll(today=date(2020, 3, 20))
    assert [r["doc_id"] for r in second.records] == [f"edgar:{late.accession}"]
    assert second.cursor == {"next_day": "2020-03-19"}


def test_polite_client_stays_under_its_rate(server):
    server.routes["/x"] = (b"ok", "")
    rate = 10.0  # the SEC's limit: the client must never exceed it
    client = PoliteClient(USER_AGENT, rate)
    threads = [threading.Thread(target=client.get, args=(f"{server.url}/x",)) for _ in range(4)]
    for _ in range(3):
        client.get(f"{server.url}/x")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(t for t, _, _ in server.requests)
    assert len(times) == 7
    # In any one-second span at most `rate` requests (generously: 7 requests need >= 0.6 s).
    assert times[-1] - times[0] >= (len(times) - 1) / rate * 0.9
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.5 / rate


def _bbc_rows(data_dir: Path, n: int) -> list[dict[str, str]]:
    path = data_dir / "streams/news/bbc_business_rss/bbc_business_rss_2022-2024.csv"
    rows: dict[str, dict[str, str]] = {}  # the CSV holds some items twice (two scrapes)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["guid"], row)
            if len(rows) == n:
                break
    return list(rows.values())


def _rss(rows: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document shaped like the BBC's, newest item first."""
    items = "".join(
        f"<item><title><![CDATA[{r['title']}]]></title>"
        f"<description><![CDATA[{r['description']}]]></description>"
        f"<link>{escape(r['link'])}</link>"
        f'<guid isPermaLink="false">{escape(r["guid"])}</guid>'
        f"<pubDate>{r['pubDate']}</pubDate></item>"
        for r in sorted(rows, key=lambda r: parsedate_to_datetime(r["pubDate"]), reverse=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title><![CDATA[BBC News - Business]]></title><link>https://www.bbc.co.uk/news/business</link>"
        f"<description>BBC News - Business</description>{items}</channel></rss>"
    ).encode()


def test_feed_poller_takes_each_item_once_across_restarts(server, data_dir, tmp_path):
    rows = _bbc_rows(data_dir, 15)
    feed = f"{server.url}/feed.xml"
    server.routes["/feed.xml"] = (_rss(rows[:10]), '"v1"')
    state = tmp_path / "rss.json"

    def poller() -> FeedPoller:
        return FeedPoller(PoliteClient(USER_AGENT, 20), SeenState(state), feed)

    first = poller().poll()
    poller().commit(first)
    assert len(first.records) == 10
    assert {r["doc_id"] for r in first.records} == {f"rss:127.0.0.1:{r['guid']}" for r in rows[:10]}
    by_guid = {r["guid"]: r for r in rows}
    for record in first.records:
        row = by_guid[record["doc_id"].removeprefix("rss:127.0.0.1:")]
        assert record["title"] == row["title"] and record["body"] == row["description"]
        assert record["url"] == row["link"]
        assert record["published_at"] == format_time(parsedate_to_datetime(row["pubDate"]))
        decode_raw(json.dumps(record).encode())
    assert [r["published_at"] for r in first.records] == sorted(
        r["published_at"] for r in first.records
    )

    unchanged = poller().poll()  # a restart against an unchanged feed: a 304, nothing sent
    assert unchanged.records == [] and server.requests[-1][2].get("If-None-Match") == '"v1"'

    server.routes["/feed.xml"] = (_rss(rows[:15]), '"v2"')
    newer = poller()
    update = newer.poll()
    newer.commit(update)
    assert {r["doc_id"] for r in update.records} == {
        f"rss:127.0.0.1:{r['guid']}" for r in rows[10:15]
    }
    assert poller().poll().records == []
    assert all(headers["User-Agent"] == USER_AGENT for _, _, headers in server.requests)


@pytest.mark.integration
def test_finsent_poll_rss_sends_each_item_once(server, data_dir, tmp_path, kafka_bootstrap):
    rows = _bbc_rows(data_dir, 12)
    server.routes["/feed.xml"] = (_rss(rows), "")  # no ETag: every poll reads the whole feed
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {
        **os.environ,
        "FINSENT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FINSENT_TOPIC_PREFIX": prefix,
        "FINSENT_VAR": str(tmp_path / "var"),
    }
    command = [sys.executable, "-m", "streams", "poll", "rss", f"{server.url}/feed.xml", "--once"]
    for expected in ("sent 12 new records", "sent 0 new records"):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert expected in done.stdout
    topic = load_settings(env).kafka.news_topic
    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=3000, enable_auto_commit=False,
    )  # fmt: skip
    doc_ids = [json.loads(m.value)["doc_id"] for m in consumer]
    consumer.close()
    assert sorted(doc_ids) == sorted(f"rss:127.0.0.1:{r['guid']}" for r in rows)
    assert list((tmp_path / "var" / "poll").glob("rss-*.json"))
