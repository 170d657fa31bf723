"""The worker's HTTP endpoint on a real embedded store, read by the real clickhouse-connect."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from models import Evidence
from streams.metrics import WorkerMetrics
from streams.records import ScoredRecord
from streams.serve import (
    HttpEndpoint,
    ReadOnlyEngine,
    advertise,
    discover,
    endpoint_file,
    withdraw,
    worker_app,
)
from streams.sinks.clickhouse import SentimentStore

T0 = datetime(2021, 3, 1, 14, 30, tzinfo=UTC)


def scored(doc_id: str, tickers=("AAPL",), score=0.5, minutes=0, kind="news") -> ScoredRecord:
    """A scored record as the worker makes one (used by several test modules)."""
    now = datetime.now(UTC)
    p_pos, p_neg = max(score, 0.0), max(-score, 0.0)
    return ScoredRecord(
        doc_id=doc_id, kind=kind, source="test", title=f"title {doc_id}",
        published_at=T0 + timedelta(minutes=minutes), received_at=now, scored_at=now,
        tickers=tuple(tickers), cik=None,
        label="positive" if score > 0.3 else "negative" if score < -0.3 else "neutral",
        p_negative=p_neg, p_neutral=1 - p_pos - p_neg, p_positive=p_pos, score=score,
        confidence=max(p_pos, p_neg, 1 - p_pos - p_neg), model_version="v1", chunks=1,
        evidence=(Evidence("worst part", -0.2), Evidence("best part", 0.9)),
    )  # fmt: skip


@pytest.fixture
def served(tmp_path):
    """A store with rows, and the worker's HTTP app on a free loopback port."""
    path = tmp_path / "ch"
    store = SentimentStore.open(f"chdb://{path}")
    store.write([scored("a", score=0.8), scored("b", ("AAPL", "MSFT"), -0.6, minutes=1)])
    metrics = WorkerMetrics()
    endpoint = HttpEndpoint(worker_app(metrics.render, ReadOnlyEngine(path)), "127.0.0.1", 0)
    endpoint.start()
    client = clickhouse_connect.get_client(host="127.0.0.1", port=endpoint.port)
    yield endpoint, client, store
    client.close()
    endpoint.stop()
    store.close()


def test_clickhouse_connect_queries_with_bound_parameters(served):
    _, client, _ = served
    tricky = "it's a \\ {x} ' OR 1=1 --"
    rows = client.query(
        "SELECT doc_id, score, tickers FROM sentiment_docs FINAL "
        "WHERE has(tickers, {t:String}) OR title = {tricky:String} ORDER BY doc_id",
        parameters={"t": "MSFT", "tricky": tricky},
    ).result_rows
    assert [(r[0], r[2]) for r in rows] == [("b", ["AAPL", "MSFT"])]
    assert rows[0][1] == pytest.approx(-0.6)
    assert client.query("SELECT {s:String}", parameters={"s": tricky}).result_rows == [(tricky,)]
    frame = client.query_df("SELECT doc_id, published_at FROM sentiment_docs FINAL ORDER BY doc_id")
    assert list(frame["doc_id"]) == ["a", "b"]
    assert frame["published_at"].iloc[1].to_pydatetime().replace(tzinfo=UTC) == T0 + timedelta(
        minutes=1
    )


def test_empty_results_keep_their_columns(served):
    _, client, _ = served
    result = client.query("SELECT doc_id, score FROM sentiment_docs WHERE doc_id = 'none'")
    assert result.column_names == ("doc_id", "score") and result.result_rows == []


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sentiment_docs (doc_id) VALUES ('x')",
        "DROP TABLE sentiment_docs",
        "CREATE TABLE t (a Int8) ENGINE = Memory",
        "ALTER TABLE sentiment_docs DELETE WHERE 1",
        "SET readonly = 0",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT 1; DROP TABLE sentiment_docs",
    ],
)
def test_anything_but_a_read_is_refused(served, statement):
    _, client, store = served
    with pytest.raises(DatabaseError, match="164"):
        client.command(statement)
    assert store.query("SELECT count() FROM sentiment_docs FINAL").rows == [(2,)]


def test_formats_database_and_errors_follow_the_clickhouse_http_interface(served):
    endpoint, _, _ = served
    base = endpoint.url

    def get(path: str) -> tuple[int, dict, bytes]:
        try:
            with urllib.request.urlopen(base + path) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    assert get("/ping")[2] == b"Ok.\n"
    status, headers, body = get(
        "/?database=default&default_format=JSONEachRow"
        "&query=SELECT+count()+AS+n+FROM+sentiment_docs+FINAL+WHERE+has(tickers,{t:String})"
        "&param_t=AAPL"
    )
    assert status == 200 and headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert json.loads(body) == {"n": 2}
    assert get("/?query=SELECT+1+FORMAT+CSV")[2] == b"1\n"
    status, headers, body = get("/?query=SELECT+*+FROM+nowhere")
    assert status == 404 and headers["X-ClickHouse-Exception-Code"] == "60"
    assert get("/?query=SELECT+1&database=x;drop")[0] == 404
    request = urllib.request.Request(base + "/", data=b"SELECT 2", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.read() == b"2\n"


def test_metrics_are_served(served):
    endpoint, _, _ = served
    with urllib.request.urlopen(endpoint.url + "/metrics") as response:
        text = response.read().decode()
    assert 'finsent_records_total{outcome="scored"} 0.0' in text


def test_readers_discover_only_a_live_worker_on_their_store(tmp_path):
    store_path = tmp_path / "ch"
    assert discover(tmp_path, store_path) is None
    advertise(tmp_path, "http://127.0.0.1:1234", store_path)
    assert discover(tmp_path, store_path) == "http://127.0.0.1:1234"
    assert discover(tmp_path, tmp_path / "other") is None
    payload = json.loads(endpoint_file(tmp_path).read_text())
    endpoint_file(tmp_path).write_text(json.dumps({**payload, "pid": 2**22 + 7}))
    assert discover(tmp_path, store_path) is None  # a dead worker's leftover file
    advertise(tmp_path, "http://127.0.0.1:1234", store_path)
    withdraw(tmp_path)
    assert not endpoint_file(tmp_path).exists()


def test_long_queries_sent_as_multipart_forms_work(served):
    _, client, _ = served
    client.form_encode_query_params = True
    values = [f"v{i}" for i in range(300)]
    rows = client.query("SELECT length({vs:Array(String)})", parameters={"vs": values}).result_rows
    assert rows == [(300,)]
