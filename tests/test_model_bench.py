"""`finsent bench model --json` end to end on a small real sample (figures are not asserted
against goals here: speed goals live in the benchmark's own output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.benchmark import real_headlines, real_paragraphs

pytestmark = pytest.mark.model


def test_real_corpora(data_dir: Path) -> None:
    heads = real_headlines(data_dir, 100)
    assert len(heads) == len(set(heads)) == 100
    paras = real_paragraphs(data_dir, 20, lambda t: len(t.split()) < 90)
    assert len(paras) == 20 and all(25 <= len(p.split()) < 90 for p in paras)


def test_cli_bench_json(served_model: Path) -> None:
    from click.testing import CliRunner

    from streams.cli import _register, cli

    _register()
    args = ["bench", "model", "--json", "--headlines", "64", "--paragraphs", "16", "--repeats", "1"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["model_dir"] == str(served_model)
    assert report["served"]["provider"] == "CPUExecutionProvider"
    for name in ("headlines", "filing_paragraphs"):
        row = report["corpora"][name]
        assert row["docs"] >= 16 and row["served_docs_per_s"] > 0
        assert row["pipeline_docs_per_s"] > 0
        assert row["speedup"] == pytest.approx(
            row["served_docs_per_s"] / row["pipeline_docs_per_s"], abs=0.01
        )
    q = report["quality"]
    assert q["rows"] == 2388 and q["label_agreement_with_fp32"] > 0.95
    assert q["f1_points_below_fp32"] == pytest.approx(
        100 * (q["f1_weighted_fp32"] - q["f1_weighted_served"]), abs=0.01
    )
