"""Where scored documents go: ClickHouse (``clickhouse``) and the scored Kafka topic (the agent)."""
