"""Fine-tuning of the base model into a 3-class sentiment classifier (torch, CPU).

Imports torch and transformers: used by ``finsent model build`` only, never by the runtime.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.cleaning import clean_text
from models.data import FINENTITY_NAME, LABELS, LabeledSet, is_calibration_row, text_key
from models.registry import TrainConfig
from models.runtime import cpu_threads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rows:
    """Cleaned training rows, split into the part trained on and the calibration hold-out."""

    fit_texts: list[str]
    fit_labels: list[int]
    calib_texts: list[str]
    calib_labels: list[int]

    def keys(self) -> list[str]:
        """Text keys of every row (both parts), sorted and unique."""
        return sorted({text_key(t) for t in self.fit_texts + self.calib_texts})


def training_rows(sets: Sequence[LabeledSet], config: TrainConfig) -> Rows:
    """Clean every text as the worker does, hold out ``calibration_fraction`` by text key, and
    repeat FinEntity's news paragraphs ``news_repeat`` times in the part trained on."""
    rows = Rows([], [], [], [])
    for s in sets:
        repeat = config.news_repeat if s.name == FINENTITY_NAME else 1
        for raw, label in zip(s.texts, s.labels, strict=True):
            text = clean_text(raw)
            if not text:
                continue
            if is_calibration_row(text, config.calibration_fraction):
                rows.calib_texts.append(text)
                rows.calib_labels.append(label)
            else:
                rows.fit_texts.extend([text] * repeat)
                rows.fit_labels.extend([label] * repeat)
    return rows


def class_weights(labels: Sequence[int], power: float) -> list[float]:
    """Loss weight per class: ``(n / (k * n_c)) ** power``, rescaled to a mean of 1.

    Rows without a gold label (``-1``, transfer sentences) are not counted.
    """
    labels = [y for y in labels if y >= 0]
    k = len(LABELS)
    if not labels:
        return [1.0] * k
    counts = [max(1, sum(1 for y in labels if y == c)) for c in range(k)]
    raw = [(len(labels) / (k * n)) ** power for n in counts]
    mean = sum(raw) / k
    return [w / mean for w in raw]


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length-grouped shuffled batches: shuffle, sort within windows of 50 batches, shuffle batches.

    Texts of similar length share a batch, so dynamic padding wastes little compute.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def fine_tune(
    base: Path,
    texts: Sequence[str],
    labels: Sequence[int],
    config: TrainConfig,
    out_dir: Path,
    *,
    soft: np.ndarray | None = None,
    progress: bool = True,
) -> dict:
    """Fine-tune ``base`` on ``texts``/``labels`` and save model + tokenizer (HF layout) into
    ``out_dir``.

    The loss is class-weighted cross-entropy on the gold labels; with ``soft`` (a teacher's
    probabilities at ``config.distill_temperature``, one row per text) it is blended with the
    distillation term as :class:`models.registry.TrainConfig` describes. A label of ``-1`` marks a
    row with no gold label, which learns from ``soft`` alone.

    Returns training statistics (steps, seconds, final loss, class weights) for the model card.
    """
    if soft is None and min(labels) < 0:
        raise ValueError("rows without a gold label need teacher probabilities (soft)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from tqdm.auto import tqdm
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    torch.set_num_threads(cpu_threads())
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    weights = class_weights(labels, config.class_weight_power)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    distill = config.distill_weight if soft is not None else 0.0
    temp = config.distill_temperature
    soft_t = torch.tensor(soft, dtype=torch.float32) if soft is not None else None
    tokenizer = AutoTokenizer.from_pretrained(base)
    enc = tokenizer(texts, truncation=True, max_length=config.max_length)
    ids: list[list[int]] = enc["input_ids"]
    lengths = [len(x) for x in ids]

    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    model.train()
    no_decay = ("bias", "LayerNorm.weight", "layernorm", "layer_norm")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optim = torch.optim.AdamW(groups, lr=config.learning_rate)
    steps_per_epoch = -(-len(texts) // config.batch_size)
    total = steps_per_epoch * config.epochs
    sched = get_linear_schedule_with_warmup(optim, int(total * config.warmup_ratio), total)
    pad = tokenizer.pad_token_id or 0

    started = time.perf_counter()
    bar = tqdm(total=total, desc="fine-tune", unit="batch", disable=not progress)
    ema = None
    for epoch in range(config.epochs):
        for batch in _batches(lengths, config.batch_size, rng):
            width = max(lengths[i] for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : lengths[i]] = torch.tensor(ids[i])
                mask[row, : lengths[i]] = 1
            target = torch.tensor([labels[i] for i in batch])
            logits = model(input_ids=input_ids, attention_mask=mask).logits
            gold = target >= 0
            loss_t = loss_fn(logits[gold], target[gold]) if gold.any() else logits.sum() * 0
            if soft_t is not None:
                student = torch.log_softmax(logits / temp, dim=-1)
                kd = torch.nn.functional.kl_div(student, soft_t[batch], reduction="batchmean")
                loss_t = (1 - distill) * loss_t + distill * temp * temp * kd
            loss_t.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            loss = loss_t.item()
            ema = loss if ema is None else 0.98 * ema + 0.02 * loss
            bar.set_postfix(epoch=epoch + 1, loss=f"{ema:.3f}")
            bar.update(1)
    bar.close()
    seconds = time.perf_counter() - started
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    log.info("fine-tuned %d steps in %.0f s, loss %.3f", total, seconds, ema or 0.0)
    return {
        "rows": len(texts),
        "steps": total,
        "seconds": round(seconds, 1),
        "final_loss_ema": round(ema or 0.0, 4),
        "threads": cpu_threads(),
        "distilled": soft is not None,
        "class_weights": dict(zip(LABELS, (round(w, 4) for w in weights), strict=True)),
    }
