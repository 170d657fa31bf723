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
