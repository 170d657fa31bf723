"""``finsent model``: build (cached fine-tune + ONNX export), eval, path, predict."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import click

from streams.settings import Settings

NAME_HELP = (
    "Which named model: default (permissive data only; what the worker serves) or research "
    "(adds PhraseBank 50Agree train, non-commercial). Default: FINSENT_MODEL_NAME or default."
)


def _settings(ctx: click.Context, name: str | None = None) -> Settings:
    settings: Settings = ctx.obj
    if name is not None:
        settings = replace(settings, model=replace(settings.model, name=name))
    return settings


def _name_option(fn):
    return click.option(
        "--name", type=click.Choice(["default", "research"]), default=None, help=NAME_HELP
    )(fn)


@click.group()
def model() -> None:
    """Build, evaluate and locate the sentiment models (cached under FINSENT_MODEL_CACHE)."""


@model.command()
@_name_option
@click.option(
    "--epochs",
    type=click.IntRange(1, 50),
    default=None,
    help="Epochs of the student (default: the recipe's, 3 for default, 2 for research). "
    "A non-default value is a different build.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the cache holds this build.")
@click.pass_context
def build(ctx: click.Context, name: str | None, epochs: int | None, force: bool) -> None:
    """Fine-tune the all-mpnet-base-v2 teacher's members (each cached on its own, with the
    logits it gave), distil their mean into all-MiniLM-L6-v2, export ONNX (FP32, fused INT8
    for the CPU, FP16 for the GPU), fit the temperature, evaluate, write the model card.

    Cached: the output folder is keyed by the training data, base model, recipe and build
    format; an existing complete build makes this a no-op.
    """
    from models.build import build as run_build
    from models.registry import recipe

    settings = _settings(ctx, name)
    standard = recipe(settings.model.name)
    config = standard if epochs is None else replace(standard, epochs=epochs)
    result = run_build(settings.model.cache_dir, settings.data_dir, config, force=force)
    if not result.built:
        click.echo(f"model already built (build key {result.key}): {result.folder}")
        click.echo("nothing to do; use --force to rebuild")
    else:
        click.echo(f"model {config.name!r} built (build key {result.key}): {result.folder}")
    if config != standard:
        click.echo(
            "note: non-default hyper-parameters; the worker serves the standard build. "
            f"To serve this one: FINSENT_MODEL_PATH={result.folder}"
        )


def _goal_line(goal: dict) -> str:
    mark = "met" if goal["met"] else "NOT met"
    value = "n/a" if goal["value"] is None else f"{goal['value']:.4f}"
    return f"goal {goal['set']} {goal['metric']} >= {goal['goal']}: {value} ({mark})"


@model.command(name="eval")
@_name_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--variant",
    type=click.Choice(["int8", "fp32", "fp16"]),
    default=None,
    help="Evaluate this model file on the CPU instead of the served one.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for eval.json, confusion.png and reliability.png (default: the model folder).",
)
@click.pass_context
def eval_(
    ctx: click.Context, name: str | None, as_json: bool, variant: str | None, out: Path | None
) -> None:
    """Accuracy, weighted and macro F1, per-class precision/recall, calibration error and the
    neutral share of a model on Twitter valid (TFNS), PhraseBank AllAgree and the FinGPT FPB
    test split, each deduplicated against the model's training rows, beside published anchors
    and the goals. Saves the figures as JSON and the confusion matrices and reliability
    diagram as PNG.
    """
    from models.evaluate import evaluate_classifier, save_eval, save_plots
    from models.registry import recipe, resolve_model_dir
    from models.runtime import Classifier, load_classifier

    settings = _settings(ctx, name)
    if variant is None:
        clf = load_classifier(settings.model, settings.data_dir)
    else:
        folder = resolve_model_dir(
            settings.model.cache_dir,
            settings.model.path,
            settings.data_dir,
            recipe(settings.model.name),
        )
        clf = Classifier(folder, "cpu", variant=variant)
    result = evaluate_classifier(clf, settings.data_dir)
    folder = out or clf.folder
    saved = save_eval(folder, result)
    plots = save_plots(result, folder) if saved else []
    result["files"] = [str(p) for p in ([saved] if saved else []) + plots]
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{result['model_name']} model {result['version']} ({result['model_file']}) on "
        f"{result['provider']}, T={result['temperature']:.3f}"
    )
    header = (
        f"{'eval set':<30} {'rows':>5} {'dup':>4} {'acc':>6} {'F1 w':>6} {'F1 m':>6} "
        f"{'ECE':>6} {'neutral t/p':>12}"
    )
    click.echo(header)
    for set_name, m in result["sets"].items():
        share = m["neutral_share"]
        click.echo(
            f"{set_name:<30} {m['rows']:>5} {m['dropped_as_training_duplicates']:>4} "
            f"{m['accuracy']:>6.3f} {m['f1_weighted']:>6.3f} {m['f1_macro']:>6.3f} "
            f"{m['ece']:>6.3f} {share['true']:>5.2f}/{share['predicted']:<5.2f}"
        )
        for a in m["anchors"]:
            figures = ", ".join(f"{k} {a[k]:.3f}" for k in ("accuracy", "f1_weighted") if k in a)
            click.echo(f"{'':<4}anchor {a['model']} ({a['source']}): {figures}")
    for goal in result["goals"]:
        click.echo(_goal_line(goal))
    for path in result["files"]:
        click.echo(f"saved {path}")


@model.command()
@_name_option
@click.pass_context
def path(ctx: click.Context, name: str | None) -> None:
    """Print the model's folder (exit 1 with a hint when it is not built)."""
    from models.registry import recipe, resolve_model_dir

    settings = _settings(ctx, name)
    folder = resolve_model_dir(
        settings.model.cache_dir,
        settings.model.path,
        settings.data_dir,
        recipe(settings.model.name),
    )
    click.echo(str(folder))


@model.command()
@_name_option
@click.argument("texts", nargs=-1)
@click.pass_context
def predict(ctx: click.Context, name: str | None, texts: tuple[str, ...]) -> None:
    """Score TEXTS (or one text per stdin line when none are given); prints JSON lines."""
    from models.runtime import load_classifier

    settings = _settings(ctx, name)
    items = list(texts) or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    clf = load_classifier(settings.model, settings.data_dir)
    for text, pred in zip(items, clf.predict(items), strict=True):
        row = {"text": text[:200], **asdict(pred), "model_version": clf.version}
        click.echo(json.dumps(row))
