"""``finsent bench``: benchmarks that print JSON and compare against a baseline in one run."""

from __future__ import annotations

import json

import click

from streams.settings import Settings


@click.group()
def bench() -> None:
    """Benchmarks (JSON on stdout with --json)."""


@bench.command(name="model")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--provider",
    type=click.Choice(["auto", "cuda", "cpu"]),
    default="cpu",
    show_default=True,
    help="Where the served model runs (cuda also puts the pipeline on the GPU).",
)
@click.option("--headlines", type=click.IntRange(16, 10_000), default=1024, show_default=True)
@click.option("--paragraphs", type=click.IntRange(16, 5_000), default=256, show_default=True)
@click.option("--repeats", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--no-pipeline", is_flag=True, help="Skip the transformers baseline.")
@click.pass_context
def model(
    ctx: click.Context,
    as_json: bool,
    provider: str,
    headlines: int,
    paragraphs: int,
    repeats: int,
    no_pipeline: bool,
) -> None:
    """Docs/s of a transformers pipeline with the same weights and of the served model, on
    real Benzinga headlines and real 8-K paragraphs, their ratio, and the served model's
    weighted F1 beside the FP32 model's (the model comes from FINSENT_MODEL_NAME/_PATH)."""
    from models.benchmark import bench_model
    from models.registry import recipe, resolve_model_dir

    settings: Settings = ctx.obj
    folder = resolve_model_dir(
        settings.model.cache_dir,
        settings.model.path,
        settings.data_dir,
        recipe(settings.model.name),
    )
    report = bench_model(
        folder,
        settings.data_dir,
        provider=provider,
        headlines=headlines,
        paragraphs=paragraphs,
        repeats=repeats,
        with_pipeline=not no_pipeline,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    served = report["served"]
    click.echo(f"served: {served['file']} {served['version']} on {served['provider']}")
    for name, row in report["corpora"].items():
        line = f"{name:<18} {row['docs']:>5} docs, {row['mean_tokens']:>5.1f} tokens: served "
        line += f"{row['served_docs_per_s']:>7.1f} docs/s"
        if "pipeline_docs_per_s" in row:
            line += f", pipeline {row['pipeline_docs_per_s']:>6.1f} docs/s, x{row['speedup']}"
        click.echo(line)
    q = report["quality"]
    click.echo(
        f"weighted F1 on {q['set']}: served {q['f1_weighted_served']:.4f}, FP32 "
        f"{q['f1_weighted_fp32']:.4f} ({q['f1_points_below_fp32']:+.2f} points), "
        f"label agreement {q['label_agreement_with_fp32']:.4f}"
    )
