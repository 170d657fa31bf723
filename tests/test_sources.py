import json

import pytest

from streams.errors import ConfigError
from streams.records import InvalidRecord, decode_raw
from streams.sources import SOURCES, get_source


@pytest.mark.parametrize(
    ("family", "name"), [(f, n) for f, names in SOURCES.items() for n in names]
)
def test_every_source_replays_valid_records_in_time_order(data_dir, family, name):
    records = get_source(family, name)(data_dir).records()
    assert len({r["doc_id"] for r in records}) == len(records)
    dated = [r["published_at"] for r in records if "published_at" in r]
    assert dated == sorted(dated)
    broken = []
    for record in records:
        try:
            decode_raw(json.dumps(record).encode())
        except InvalidRecord as error:
            broken.append(error.reason)
    # The only unreadable rows in the real files are Benzinga's four split CSV lines.
    assert len(broken) == (4 if name == "benzinga" else 0)
    assert all("published_at" in reason for reason in broken)


def test_limit_takes_the_oldest(data_dir):
    source = get_source("news", "benzinga")(data_dir)
    first = source.records(limit=5)
    assert [r["doc_id"] for r in first] == [r["doc_id"] for r in source.records()[:5]]


def test_8k_filings_carry_items_and_cik(data_dir):
    records = get_source("filings", "8k")(data_dir).records()
    assert len(records) == 553
    assert all(r["sections"] and r["cik"] and r["kind"] == "filing" for r in records)


def test_unknown_source_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="benzinga, seekingalpha, bbc"):
        get_source("news", "reuters")


def test_edgar_html_replay_joins_exhibits_and_sends_focus_sections(data_dir):
    records = get_source("filings", "edgar-html")(data_dir).records()
    by_title = {r["title"]: r for r in records}
    assert len(records) == 10  # 11 HTML files, one of them an exhibit of another
    buckle = by_title["BUCKLE, INC 8-K 2024-11-22"]
    assert [s["name"] for s in buckle["sections"]] == ["Item 2.02", "EX-99.1"]
    assert (buckle["cik"], buckle["form"]) == ("885245", "8-K")
    apple = by_title["Apple Inc. 10-K 2024-09-28"]
    assert [s["name"] for s in apple["sections"]] == [
        "Item 1",
        "Item 1A",
        "Item 3",
        "Item 7",
        "Item 7A",
    ]
    for record in records:
        decode_raw(json.dumps(record).encode())  # every record meets the raw contract


def test_edgar_html_source_reads_a_given_file(data_dir, tmp_path):
    path = data_dir / "streams/filings/edgar_html/Oracle.8-K.html"
    (record,) = get_source("filings", "edgar-html")(data_dir, path).records()
    assert record["doc_id"] == "edgar:1341439:8-K:2024-11-14"


@pytest.mark.parametrize(
    ("kind", "count", "sections"),
    [
        ("statements", 159, ["Statement"]),
        ("minutes", 230, ["Minutes"]),
        ("press", 63, ["Opening statement", "Questions and answers"]),
    ],
)
def test_fomc_sources_are_dated_and_untickered(data_dir, kind, count, sections):
    records = get_source("fomc", kind)(data_dir).records()
    assert len(records) == count
    dates = [r["published_at"] for r in records]
    assert dates == sorted(dates) and all(d[:4] >= "1994" for d in dates)
    first = records[0]
    assert first["kind"] == "fomc" and first["company"] == "Federal Reserve"
    assert "tickers" not in first
    assert [s["name"] for s in first["sections"]] == sections
    decode_raw(json.dumps(first).encode())
