"""The production stack in deploy/production cannot run here (no Docker, no GPU): check that
its files parse, agree with each other, and that the workers' configuration is valid."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from streams.settings import PROJECT_ROOT, load_settings

PRODUCTION = PROJECT_ROOT / "deploy" / "production"


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def _compose() -> dict:
    return yaml.safe_load((PRODUCTION / "compose.yaml").read_text("utf-8"))


def _env_path(name: str) -> Path:
    path = PRODUCTION / name
    return path if path.exists() else path.with_name(name + ".example")  # secrets.env


def test_the_workers_configuration_is_a_valid_finsent_configuration():
    services = _compose()["services"]
    env = {}
    for name in services["worker"]["env_file"]:
        env |= _env_file(_env_path(name))
    settings = load_settings(env)
    assert settings.kafka.bootstrap.split(":")[0] in services  # the compose service names
    assert settings.kafka.external
    dsn = urlsplit(settings.clickhouse.dsn)
    assert dsn.scheme == "http" and dsn.hostname in services and dsn.port == 8123
    assert dsn.path.strip("/") == services["clickhouse"]["environment"]["CLICKHOUSE_DB"]
    assert settings.model.provider == "cuda" and settings.http.host == "0.0.0.0"
    scrape = yaml.safe_load((PRODUCTION / "prometheus" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": settings.http.port,
    }
    (gpu,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["capabilities"] == ["gpu"] and gpu["count"] == 1


def test_every_mounted_and_referenced_file_exists():
    compose = _compose()
    for service in compose["services"].values():
        for name in service.get("env_file", []):
            assert _env_path(name).exists(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (PRODUCTION / source).resolve().exists(), source
        build = service.get("build")
        if build:
            context = (PRODUCTION / build["context"]).resolve()
            assert context == PROJECT_ROOT and (context / build["dockerfile"]).exists()
    for line in (PRODUCTION / "worker.Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT_ROOT / source).exists(), source


def test_grafana_gets_every_variable_its_provisioning_reads():
    compose = _compose()
    env = {}
    for name in compose["services"]["grafana"]["env_file"]:
        env |= _env_file(_env_path(name))
    datasources = PROJECT_ROOT / "dashboards" / "provisioning" / "datasources" / "finsent.yaml"
    wanted = set(re.findall(r"\$\{(\w+)\}", datasources.read_text()))
    assert wanted and wanted <= set(env)
    assert env["FINSENT_GRAFANA_CH_HOST"] in compose["services"]
    assert "grafana-clickhouse-datasource" in env["GF_PLUGINS_PREINSTALL"]
    users = ET.parse(PRODUCTION / "clickhouse" / "users.d" / "grafana.xml").getroot()
    user = users.find(f"users/{env['FINSENT_GRAFANA_CH_USER']}")
    profile = users.find(f"profiles/{user.findtext('profile')}")
    assert profile.findtext("readonly") in ("1", "2")
    assert user.find("password").get("from_env") == "FINSENT_GRAFANA_CH_PASSWORD"
    grant = user.findtext("grants/query")
    assert grant == f"GRANT SELECT ON {env['FINSENT_GRAFANA_CH_DATABASE']}.*"
