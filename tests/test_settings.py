import pytest

from streams.errors import ConfigError
from streams.settings import load_settings, redact_dsn


def test_defaults_use_the_local_broker_and_embedded_store(tmp_path):
    settings = load_settings({"FINSENT_VAR": str(tmp_path)})
    assert settings.kafka.bootstrap == "127.0.0.1:9092" and not settings.kafka.external
    assert settings.clickhouse.dsn == f"chdb://{tmp_path / 'clickhouse'}"
    assert settings.kafka.news_topic == "news.raw"
    assert settings.worker.batch_max == 64


def test_prefix_isolates_topics_and_group():
    settings = load_settings({"FINSENT_TOPIC_PREFIX": "t1.", "FINSENT_KAFKA_BOOTSTRAP": "h:1"})
    assert settings.kafka.external and settings.kafka.bootstrap == "h:1"
    assert settings.kafka.scored_topic == "t1.sentiment.scored"
    assert settings.kafka.consumer_group == "t1.finsent-worker"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FINSENT_BATCH_MAX": "lots"}, "FINSENT_BATCH_MAX must be an integer"),
        ({"FINSENT_CLICKHOUSE": "mysql://x"}, "must start with chdb://"),
        ({"FINSENT_MODEL_PROVIDER": "tpu"}, "auto, cuda or cpu"),
    ],
)
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_passwords_are_never_shown():
    dsn = "https://reader:s3cret@ch.example:8443/finsent"
    assert redact_dsn(dsn) == "https://reader:***@ch.example:8443/finsent"
    assert "s3cret" not in repr(load_settings({"FINSENT_CLICKHOUSE": dsn}).clickhouse)
