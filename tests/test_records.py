import base64
import json
from datetime import UTC, datetime

import jsonschema
import pytest

from models import Evidence
from streams.records import (
    InvalidRecord,
    ScoredRecord,
    deadletter_bytes,
    decode_raw,
    schema,
)

GOOD = {
    "doc_id": "benzinga:1",
    "kind": "news",
    "source": "benzinga",
    "published_at": "2020-06-03 10:45:00-04:00",
    "title": "Stocks That Hit 52-Week Highs On Wednesday &amp; more https://t.co/x",
    "tickers": ["A"],
}


def _bytes(payload) -> bytes:
    return json.dumps(payload).encode()


def test_valid_record_is_parsed_and_cleaned():
    record = decode_raw(_bytes(GOOD))
    assert record.published_at == datetime(2020, 6, 3, 14, 45, tzinfo=UTC)
    assert record.text() == "Stocks That Hit 52-Week Highs On Wednesday & more"
    assert decode_raw(record.to_bytes()) == record


@pytest.mark.parametrize(
    ("value", "stage", "reason"),
    [
        (None, "decode", "tombstone"),
        (b"\xff\xfe", "decode", "not UTF-8"),
        (b"{not json", "decode", "not JSON"),
        (b"[1, 2]", "decode", "JSON object"),
        (_bytes({**GOOD, "kind": "tweet"}), "validate", "kind"),
        (
            _bytes({k: v for k, v in GOOD.items() if k != "published_at"}),
            "validate",
            "published_at",
        ),
        (_bytes({**GOOD, "published_at": "last tuesday"}), "validate", "ISO 8601"),
        (_bytes({**GOOD, "title": " <br> \n"}), "validate", "no text"),
        (_bytes({**GOOD, "tickers": "A"}), "validate", "tickers"),
        (_bytes({**GOOD, "cik": "12ab"}), "validate", "cik"),
        (b"[" * 100_000, "decode", "nested too deeply"),
        (_bytes({**GOOD, "published_at": "0001-01-01T00:00:00+01:00"}), "validate", "ISO 8601"),
        (b'{"title": "Apple \\ud800 rises"}', "decode", "surrogate"),
        (_bytes({**GOOD, "sections": [{"name": "Item 2.02", "text": " "}]}), "validate", "every"),
        (_bytes({**GOOD, "kind": "filing"}), "validate", "title is not scored alone"),
    ],
)
def test_invalid_records_say_why(value, stage, reason):
    with pytest.raises(InvalidRecord) as caught:
        decode_raw(value)
    assert caught.value.stage == stage
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("up \\ud83d\\ude00 today", "up \U0001f600 today"),  # an escaped pair is one character
        ("path C:\\\\ud800", "path C:\\ud800"),  # an escaped backslash, then plain letters
    ],
)
def test_surrogate_escapes_that_make_text_are_kept(title, expected):
    value = _bytes({**GOOD, "title": "TITLE"}).replace(b"TITLE", title.encode())
    assert decode_raw(value).title == expected


def test_upper_case_lone_surrogate_escape_is_refused():
    with pytest.raises(InvalidRecord, match="surrogate"):
        decode_raw(_bytes({**GOOD, "title": "TITLE"}).replace(b"TITLE", b"a \\uDFFF b"))


def test_scored_record_matches_its_published_schema():
    now = datetime.now(UTC)
    record = ScoredRecord(
        doc_id="d", kind="filing", source="sec-8k", title="t", published_at=now,
        received_at=now, scored_at=now, tickers=("AAPL",), cik="320193", label="negative",
        p_negative=0.7, p_neutral=0.2, p_positive=0.1, score=-0.6, confidence=0.7,
        model_version="abc", chunks=3, evidence=(Evidence("bad", -0.9), Evidence("good", 0.4)),
    )  # fmt: skip
    payload = json.loads(record.to_bytes())
    jsonschema.validate(payload, schema("scored-record.v1"))
    assert record.key == b"AAPL"


def test_deadletter_keeps_original_bytes():
    original = b"\xff not json"
    envelope = json.loads(
        deadletter_bytes(InvalidRecord("bad", "decode"), original=original, topic="news.raw",
                         partition=2, offset=7)
    )  # fmt: skip
    jsonschema.validate(envelope, schema("deadletter-record.v1"))
    assert base64.b64decode(envelope["original_b64"]) == original
    assert (envelope["topic"], envelope["partition"], envelope["offset"]) == ("news.raw", 2, 7)
