"""``finsent model``: build (cached fine-tune + ONNX export), eval, path, predict."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace

import click

from streams.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


@click.group()
def model() -> None:
    """Build, evaluate and locate the sentiment model (cached under FINSENT_MODEL_CACHE)."""


@model.command()
@click.option(
    "--epochs",
    type=click.IntRange(1, 50),
    default=None,
    help="Training epochs (default 2). A non-default value is a different build.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the cache holds this build.")
@click.pass_context
def build(ctx: click.Context, epochs: int | None, force: bool) -> None:
    """Fine-tune all-MiniLM-L6-v2 on the permissive data, export ONNX FP32 + INT8, write the card.

    Cached: the output folder is keyed by the training data, base model, hyper-parameters and
    build format; an existing complete build makes this a no-op.
    """
    from models.build import build as run_build
    from models.registry import TrainConfig

    settings = _settings(ctx)
    config = TrainConfig() if epochs is None else replace(TrainConfig(), epochs=epochs)
    result = run_build(settings.model.cache_dir, settings.data_dir, config, force=force)
    if not result.built:
        click.echo(f"model already built (build key {result.key}): {result.folder}")
        click.echo("nothing to do; use --force to rebuild")
    else:
        click.echo(f"model built (build key {result.key}): {result.folder}")
    if config != TrainConfig():
        click.echo(
            "note: non-default hyper-parameters; the worker serves the default build. "
            f"To serve this one: FINSENT_MODEL_PATH={result.folder}"
        )


@model.command(name="eval")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def eval_(ctx: click.Context, as_json: bool) -> None:
    """Accuracy and weighted F1 of the served model on Twitter valid and PhraseBank AllAgree.

    The figures are also saved as eval.json in the model folder.
    """
    from models.evaluate import evaluate_classifier, save_eval
    from models.runtime import load_classifier

    settings = _settings(ctx)
    clf = load_classifier(settings.model, settings.data_dir)
    result = evaluate_classifier(clf, settings.data_dir)
    saved = save_eval(clf.folder, result)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"model {result['version']} ({result['model_file']}) on {result['provider']}")
    click.echo(f"{'eval set':<34} {'rows':>6} {'accuracy':>9} {'F1 (w)':>7} {'docs/s':>7}")
    for name, m in result["sets"].items():
        click.echo(
            f"{name:<34} {m['rows']:>6} {m['accuracy']:>9.4f} {m['f1_weighted']:>7.4f} "
            f"{m['docs_per_s'] or 0:>7.0f}"
        )
    if saved:
        click.echo(f"saved {saved}")


@model.command()
@click.pass_context
def path(ctx: click.Context) -> None:
    """Print the served model's folder (exit 1 with a hint when it is not built)."""
    from models.registry import resolve_model_dir

    settings = _settings(ctx)
    click.echo(
        str(resolve_model_dir(settings.model.cache_dir, settings.model.path, settings.data_dir))
    )


@model.command()
@click.argument("texts", nargs=-1)
@click.pass_context
def predict(ctx: click.Context, texts: tuple[str, ...]) -> None:
    """Score TEXTS (or one text per stdin line when none are given); prints JSON lines."""
    from models.runtime import load_classifier

    settings = _settings(ctx)
    items = list(texts) or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    clf = load_classifier(settings.model, settings.data_dir)
    for text, pred in zip(items, clf.predict(items), strict=True):
        row = {"text": text[:200], **asdict(pred), "model_version": clf.version}
        click.echo(json.dumps(row))
