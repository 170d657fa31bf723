"""The Grafana dashboards: parsed by grafana-foundation-sdk, every panel's SQL run on the real
schema with data in it (the ClickHouse plugin's macros and the template variables expanded as
Grafana would), the column types each panel type needs, and every Prometheus metric they use
exposed by the worker. There is no Grafana server here: the expansion is this test's."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from streams.metrics import WorkerMetrics
from streams.pipeline import BatchResult, Incoming
from streams.settings import PROJECT_ROOT
from streams.sinks.clickhouse import SentimentStore
from tests.test_serve import scored

DASHBOARDS = sorted((PROJECT_ROOT / "dashboards" / "json").glob("*.json"))
PROVISIONING = PROJECT_ROOT / "dashboards" / "provisioning"
NOW = datetime.now(UTC).replace(microsecond=0)
FROM, TO = NOW - timedelta(days=30), NOW + timedelta(minutes=10)  # the picker at "now"
INTERVAL_S = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400, "7d": 604800}
TIME_TYPES = ("DateTime",)
NUMERIC = ("Int", "UInt", "Float", "Decimal")


def _load(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))


def _targets(dashboard: dict, ds_type: str):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == ds_type:
                yield panel, target


def expand(sql: str, variables: dict[str, str], interval_s: int) -> str:
    """The grafana-clickhouse-datasource macros and Grafana's variable interpolation."""
    frm, to = int(FROM.timestamp()), int(TO.timestamp())
    sql = re.sub(
        r"\$__timeFilter\(([^()]+)\)",
        lambda m: f"{m[1]} >= toDateTime({frm}) AND {m[1]} <= toDateTime({to})",
        sql,
    )
    sql = re.sub(
        r"\$__timeInterval\(([^()]+)\)",
        lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {interval_s} second)",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({frm})").replace("$__toTime", f"toDateTime({to})")
    sql = sql.replace("$__interval_s", str(interval_s))
    quote = lambda v: "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"  # noqa: E731
    sql = re.sub(r"\$\{(\w+):sqlstring\}", lambda m: quote(variables[m[1]]), sql)
    sql = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables[m[1] or m[2]], sql)
    assert "$" not in sql, f"unexpanded macro or variable in {sql}"
    return sql


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The real schema with a month of documents on five tickers, ending now."""
    opened = SentimentStore.open(f"chdb://{tmp_path_factory.mktemp('dash') / 'ch'}")
    records = []
    for i in range(400):
        at = NOW - timedelta(hours=i * 1.7)
        tickers = (("AAPL", "MSFT", "NVDA", "TSLA", "AMZN")[i % 5],)
        kind = "filing" if i % 9 == 0 else "news"
        score = ((i * 37) % 200 - 100) / 100
        record = scored(f"d{i}", tickers, score, kind=kind)
        records.append(record.__class__(**{**record.__dict__, "published_at": at}))
    opened.write(records)
    opened.write(records[:50])  # a replay: the dashboards must not double count
    yield opened
    opened.close()


def test_there_are_the_three_dashboards_and_the_sdk_parses_them():
    assert [p.stem for p in DASHBOARDS] == [
        "market-overview",
        "pipeline-health",
        "ticker-drilldown",
    ]
    for path in DASHBOARDS:
        raw = _load(path)
        parsed = Dashboard.from_json(raw)
        assert parsed.uid == raw["uid"] and parsed.title == raw["title"]
        assert [p.title for p in parsed.panels] == [p["title"] for p in raw["panels"]]
        for panel, raw_panel in zip(parsed.panels, raw["panels"], strict=True):
            assert len(panel.targets) == len(raw_panel["targets"]) > 0
        assert len({p["id"] for p in raw["panels"]}) == len(raw["panels"])


def test_provisioning_names_the_datasources_the_panels_use():
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "finsent.yaml").read_text())
    by_uid = {d["uid"]: d for d in datasources["datasources"]}
    clickhouse = by_uid["finsent-clickhouse"]
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    assert clickhouse["jsonData"]["protocol"] == "http"
    assert {"host", "port", "username", "defaultDatabase"} <= set(clickhouse["jsonData"])
    assert "password" in clickhouse["secureJsonData"]
    assert by_uid["finsent-prometheus"]["type"] == "prometheus"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "finsent.yaml").read_text())
    assert providers["providers"][0]["options"]["path"]
    for path in DASHBOARDS:
        dashboard = _load(path)
        refs = [p["datasource"] for p in dashboard["panels"]]
        refs += [t["datasource"] for p in dashboard["panels"] for t in p["targets"]]
        refs += [v["datasource"] for v in dashboard["templating"]["list"] if "datasource" in v]
        for ref in refs:
            assert by_uid[ref["uid"]]["type"] == ref["type"], path.name


def _variables(dashboard: dict, store: SentimentStore) -> dict[str, str]:
    values = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            rows = store.query(variable["query"]).rows
            assert rows, f"variable {variable['name']} has no values"
            values[variable["name"]] = rows[0][0]
        else:
            values[variable["name"]] = variable["current"]["value"]
    return values


def _check_columns(kind: str, title: str, types: list[str]) -> None:
    times = [t for t in types if t.startswith(TIME_TYPES)]
    numbers = [t for t in types if t.startswith(NUMERIC)]
    strings = [t for t in types if "String" in t]
    if kind in ("timeseries", "status-history"):
        assert types[0].startswith(TIME_TYPES), f"{title}: first column must be a time: {types}"
        assert numbers, f"{title}: needs a numeric column: {types}"
    if kind == "status-history":
        assert strings, f"{title}: needs a string column to split rows by: {types}"
    if kind == "bargauge":
        assert strings and numbers, f"{title}: needs a name and a value column: {types}"
    if kind == "stat":
        assert numbers and not times, f"{title}: stat panels show numbers: {types}"
    assert len(times) + len(numbers) + len(strings) == len(types), f"{title}: {types}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_clickhouse_panel_runs_on_the_real_schema(path, store):
    dashboard = _load(path)
    variables = _variables(dashboard, store)
    ran = 0
    for panel, target in _targets(dashboard, "grafana-clickhouse-datasource"):
        bucket = panel.get("interval", "").lstrip("$")
        interval_s = INTERVAL_S[variables[bucket]] if bucket else 3600
        sql = expand(target["rawSql"], variables, interval_s)
        result = store.client.query(sql)
        assert result.result_rows, f"{panel['title']}: no rows on a month of data"
        types = [t.name for t in result.column_types]
        _check_columns(panel["type"], panel["title"], types)
        expected_format = 0 if target["queryType"] == "timeseries" else 1
        assert target["format"] == expected_format, panel["title"]
        ran += 1
    assert ran or path.stem == "pipeline-health"


def test_replays_are_not_double_counted_on_the_dashboards(store):
    market = _load(PROJECT_ROOT / "dashboards" / "json" / "market-overview.json")
    (target,) = [
        t for p in market["panels"] for t in p["targets"] if p["title"] == "Most mentioned"
    ]
    rows = store.client.query(expand(target["rawSql"], {"min_docs": "2"}, 3600)).result_rows
    assert sum(row[1] for row in rows) == 400


def test_every_prometheus_panel_uses_metrics_the_worker_exposes():
    metrics = WorkerMetrics()
    incoming = Incoming(b"{}", "news.raw", 0, 0, datetime.now(UTC))
    metrics.observe_batch(BatchResult([scored("a")], [], [incoming]), 0.1)
    metrics.set_lag({("news.raw", 0): 3})
    exposed = {
        line.split("{")[0].split(" ")[0]
        for line in metrics.render()[0].decode().splitlines()
        if line and not line.startswith("#")
    }
    used = 0
    for path in DASHBOARDS:
        for panel, target in _targets(_load(path), "prometheus"):
            names = set(re.findall(r"\bfinsent_\w+", target["expr"]))
            assert names, panel["title"]
            assert names <= exposed, f"{panel['title']}: {names - exposed} not exposed"
            used += 1
    assert used >= 6
