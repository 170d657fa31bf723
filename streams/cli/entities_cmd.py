"""``finsent entities``: entity linking and entity-level sentiment, measured on FinEntity."""

from __future__ import annotations

import json

import click

from streams.settings import Settings


@click.group()
def entities() -> None:
    """Company-name linking and per-company sentiment."""


@entities.command("eval")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N paragraphs only.")
@click.option("--no-sentiment", is_flag=True, help="Linking only (no model needed).")
@click.pass_obj
def evaluate(settings: Settings, limit: int | None, no_sentiment: bool) -> None:
    """Linking precision/recall and entity-level vs document-level accuracy, as JSON."""
    from features.entities import EntityLinker
    from streams.entity_eval import (
        evaluate_linking,
        evaluate_sentiment,
        load_finentity,
        report_json,
    )

    rows = load_finentity(settings.data_dir, limit)
    linking = evaluate_linking(EntityLinker.from_data_dir(settings.data_dir), rows)
    sentiment = None
    if not no_sentiment:
        from models import load_classifier

        classifier = load_classifier(settings.model, settings.data_dir)
        sentiment = evaluate_sentiment(classifier, rows)
    click.echo(json.dumps(report_json(linking, sentiment), indent=2))
