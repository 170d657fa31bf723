"""Throughput of the served model against a transformers ``pipeline`` with the same weights,
in one run, on real headlines and real filing paragraphs (``finsent bench model``).

Both sides get the same texts (unique, each fitting the 128-token window so both do the same
work), the same threads, one warm-up pass, then the best of ``repeats`` timed passes. The
served side runs ``Classifier.predict`` end to end (cleaning, tokenization, length buckets,
ONNX Runtime) with its cache cleared before every pass. Quality beside speed: weighted F1 on
Twitter valid of the served file and of the FP32 file, and label agreement of the two.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from models import data as labeled
from models import registry
from models.runtime import Classifier, cpu_threads

log = logging.getLogger(__name__)

HEADLINES = Path(
    "streams/news/benzinga_analyst_ratings_sample/analyst_ratings_processed_first9993.csv"
)
FILINGS_8K = Path("streams/filings/sec_8k_items.jsonl")
PIPELINE_BATCH = 32
MIN_PARAGRAPH_WORDS = 25


def real_headlines(data_dir: Path, n: int) -> list[str]:
    """The first ``n`` distinct Benzinga headlines."""
    seen: dict[str, None] = {}
    with (data_dir / HEADLINES).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            title = (row.get("title") or "").strip()
            if title:
                seen.setdefault(title, None)
            if len(seen) >= n:
                break
    return list(seen)


def real_paragraphs(data_dir: Path, n: int, fits: Callable[[str], bool]) -> list[str]:
    """The first ``n`` distinct 8-K paragraphs (lines of an item) of at least
    :data:`MIN_PARAGRAPH_WORDS` words that ``fits`` one model window."""
    seen: dict[str, None] = {}
    with (data_dir / FILINGS_8K).open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            for key, value in rec.items():
                if not key.startswith("item_") or not isinstance(value, str):
                    continue
                for para in value.split("\n"):
                    para = para.strip()
                    if len(para.split()) >= MIN_PARAGRAPH_WORDS and fits(para):
                        seen.setdefault(para, None)
            if len(seen) >= n:
                break
    return list(seen)[:n]


def _best_rate(fn: Callable[[], Any], n: int, repeats: int) -> float:
    fn()  # warm-up: session start, allocator, kernels picked
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = max(best, n / (time.perf_counter() - started))
    return round(best, 1)


def _pipeline(torch_dir: Path, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import pipeline

    torch.set_num_threads(cpu_threads())
    return pipeline(
        "text-classification",
        model=str(torch_dir),
        tokenizer=str(torch_dir),
        device=device,
        top_k=None,
    )


def _quality(served: Classifier, fp32: Classifier, data_dir: Path) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    valid = labeled.twitter_valid(data_dir)
    a = [p.label for p in served.predict(valid.texts)]
    b = [p.label for p in fp32.predict(valid.texts)]
    y = [labeled.LABELS[i] for i in valid.labels]
    f1_served = float(f1_score(y, a, average="weighted"))
    f1_fp32 = float(f1_score(y, b, average="weighted"))
    return {
        "set": valid.name,
        "rows": len(valid),
        "f1_weighted_served": round(f1_served, 4),
        "f1_weighted_fp32": round(f1_fp32, 4),
        "f1_points_below_fp32": round(100 * (f1_fp32 - f1_served), 2),
        "label_agreement_with_fp32": round(
            sum(x == z for x, z in zip(a, b, strict=True)) / len(a), 4
        ),
    }


def bench_model(
    folder: Path,
    data_dir: Path,
    *,
    provider: str = "cpu",
    headlines: int = 1024,
    paragraphs: int = 256,
    repeats: int = 3,
    with_pipeline: bool = True,
) -> dict[str, Any]:
    """Docs/s of the transformers pipeline and the served model on both corpora, their ratio,
    and the served model's quality next to FP32."""
    served = Classifier(folder, provider)
    gpu = served.provider != "CPUExecutionProvider"
    fp32 = Classifier(folder, "cpu", variant="fp32")
    window = served.max_tokens

    def fits(text: str) -> bool:
        return len(served._tok.encode(text).ids) <= window

    corpora = {
        "headlines": real_headlines(data_dir, headlines),
        "filing_paragraphs": real_paragraphs(data_dir, paragraphs, fits),
    }
    pipe = (
        _pipeline(folder / registry.TORCH_DIR, "cuda" if gpu else "cpu") if with_pipeline else None
    )
    results: dict[str, Any] = {}
    for name, texts in corpora.items():
        texts = [t for t in texts if fits(t)]
        tokens = [len(served._tok.encode(t).ids) for t in texts]

        def run_served(texts: Sequence[str] = texts) -> None:
            served.clear_cache()
            served.predict(texts)

        row: dict[str, Any] = {
            "docs": len(texts),
            "mean_tokens": round(sum(tokens) / len(tokens), 1),
            "served_docs_per_s": _best_rate(run_served, len(texts), repeats),
        }
        if pipe is not None:

            def run_pipe(texts: Sequence[str] = texts) -> None:
                pipe(list(texts), batch_size=PIPELINE_BATCH, truncation=True, max_length=window)

            row["pipeline_docs_per_s"] = _best_rate(run_pipe, len(texts), repeats)
            row["speedup"] = round(row["served_docs_per_s"] / row["pipeline_docs_per_s"], 2)
        results[name] = row
        log.info("%s: %s", name, row)
    return {
        "model_dir": str(folder),
        "model_name": served.card.get("model_name", "default"),
        "served": {
            "file": served.model_file.name,
            "version": served.version,
            "provider": served.provider,
            "batch_size": served.batch_size,
        },
        "pipeline": {
            "task": "text-classification",
            "weights": str(folder / registry.TORCH_DIR),
            "batch_size": PIPELINE_BATCH,
            "device": "cuda" if gpu else "cpu",
        }
        if with_pipeline
        else None,
        "threads": cpu_threads(),
        "repeats": repeats,
        "corpora": results,
        "quality": _quality(served, fp32, data_dir),
        "goal": {"speedup_on_headlines": 5.0, "max_f1_points_below_fp32": 0.5},
    }
