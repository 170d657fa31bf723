"""The serving runtime: ONNX Runtime sessions, tokenization, length-bucketed batching, chunking.

Imports neither torch nor transformers: tokenization uses the ``tokenizers`` library on the
``tokenizer.json`` saved beside the model.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.chunking import chunk_text
from models import registry
from models.data import LABELS
from streams.errors import FinsentError

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEFAULT_MAX_TOKENS = 128  # the model window, special tokens included
DEFAULT_BATCH_SIZE = 64


def cpu_threads() -> int:
    """Cores this process may run on (2 on the reference machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Evidence:
    """One chunk of a long document and its score (p_positive - p_negative)."""

    text: str
    score: float


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one document."""

    label: str
    score: float  # p_positive - p_negative, in [-1, 1]
    p_negative: float
    p_neutral: float
    p_positive: float
    confidence: float  # probability of the predicted label
    chunks: int
    evidence: tuple[Evidence, ...]  # (most negative, most positive) chunk when chunks > 1


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _session_options(threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def _probe(sess) -> None:
    ids = np.array([[101, 102]], dtype=np.int64)
    sess.run(["logits"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})


def _gpu_device_present() -> bool:
    """Whether the NVIDIA driver exposes a device (cheap check that keeps ORT from logging
    CUDA load errors on machines that have no GPU at all)."""
    return Path("/dev/nvidia0").exists() or any(Path("/proc/driver/nvidia/gpus").glob("*"))


def _cuda_session(path: Path, threads: int):
    """An ORT session on the GPU, or the reason there is none."""
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        return None, f"{CUDA} is not in onnxruntime's available providers"
    if not _gpu_device_present():
        return None, "no NVIDIA GPU device on this machine"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # CUDA/cuDNN from the nvidia-* wheels, when installed
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
            preload()
    try:
        sess = ort.InferenceSession(str(path), _session_options(threads), providers=[CUDA, CPU])
    except Exception as exc:  # CUDA/cuDNN libraries missing or mismatched
        return None, f"CUDA session creation failed: {exc}"
    if sess.get_providers()[0] != CUDA:
        return None, "onnxruntime could not start CUDA (no GPU, or CUDA/cuDNN mismatch)"
    try:
        _probe(sess)
    except Exception as exc:
        return None, f"CUDA session cannot run: {exc}"
    return sess, ""


class Classifier:
    """A served sentiment model: ``predict(texts)`` gives one :class:`Prediction` per text.

    ``provider``: ``cuda`` (GPU or error), ``auto`` (GPU with the FP32 model when usable, else
    CPU with the INT8 model), ``cpu`` (INT8 on the CPU). ``variant`` (``int8`` | ``fp32``) forces
    the model file, e.g. to evaluate FP32 on the CPU.
    """

    def __init__(
        self,
        folder: Path,
        provider: str = "auto",
        *,
        variant: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if provider not in ("auto", "cuda", "cpu"):
            raise FinsentError(f"provider must be auto, cuda or cpu, got {provider!r}")
        if variant not in (None, "int8", "fp32"):
            raise FinsentError(f"variant must be int8 or fp32, got {variant!r}")
        self.folder = Path(folder)
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        threads = threads or cpu_threads()
        card_path = self.folder / registry.CARD_JSON
        self.card: dict = json.loads(card_path.read_text()) if card_path.is_file() else {}
        labels = tuple(self.card.get("labels", LABELS))
        if labels != LABELS:
            raise FinsentError(f"model labels {labels} are not {LABELS}")

        sess = None
        if provider in ("cuda", "auto"):
            gpu_name = registry.INT8_ONNX if variant == "int8" else registry.FP32_ONNX
            gpu_file = self.folder / gpu_name
            sess, why = _cuda_session(gpu_file, threads)
            if sess is None and provider == "cuda":
                raise FinsentError(f"FINSENT_MODEL_PROVIDER=cuda but the GPU is not usable: {why}")
            if sess is None:
                log.info("no usable GPU (%s); using the CPU", why)
            else:
                self.model_file = gpu_file
        if sess is None:
            self.model_file = self.folder / (
                registry.FP32_ONNX if variant == "fp32" else registry.INT8_ONNX
            )
            sess = ort.InferenceSession(
                str(self.model_file), _session_options(threads), providers=[CPU]
            )
        self._sess = sess
        self.provider: str = sess.get_providers()[0]
        self._inputs = {i.name for i in sess.get_inputs()}
        self.version: str = registry.short_version(self.model_file)
        self._tok = Tokenizer.from_file(str(self.folder / registry.TOKENIZER_FILE))
        self._tok.no_truncation()
        self._tok.no_padding()
        self._pad_id = self._tok.token_to_id("[PAD]") or 0
        self._cls = self._tok.token_to_id("[CLS]")
        self._sep = self._tok.token_to_id("[SEP]")
        log.info(
            "model %s (%s) on %s, %d threads",
            self.version,
            self.model_file.name,
            self.provider,
            threads,
        )

    def __repr__(self) -> str:
        return (
            f"Classifier(version={self.version!r}, provider={self.provider!r}, "
            f"file={self.model_file.name!r})"
        )

    def _token_spans(self, text: str) -> list[tuple[int, int]]:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)

    def _chunks(self, text: str) -> tuple[list[str], list[list[int]]]:
        pieces = chunk_text(text, self._token_spans, self.max_tokens - 2)
        if not pieces:
            return [text], [[self._cls, self._sep]]
        encs = self._tok.encode_batch([p.text for p in pieces])
        ids = [
            e.ids[: self.max_tokens - 1] + ([self._sep] if len(e.ids) > self.max_tokens else [])
            for e in encs
        ]
        return [p.text for p in pieces], ids

    def probabilities(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities of token-id sequences, batched by similar length."""
        out = np.zeros((len(ids), len(LABELS)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            feed = {"input_ids": batch, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(batch)
            logits = self._sess.run(["logits"], feed)[0]
            out[rows] = _softmax(logits.astype(np.float32))
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Score ``texts`` (any length): one :class:`Prediction` per text, in order."""
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts, not one string")
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        encs = self._tok.encode_batch(texts)
        units: list[list[int]] = []
        unit_text: list[str | None] = []
        owner: list[tuple[int, int]] = []  # (first unit, count) per text
        for text, enc in zip(texts, encs, strict=True):
            first = len(units)
            if len(enc.ids) <= self.max_tokens:
                units.append(enc.ids)
                unit_text.append(None)
            else:
                chunk_texts, chunk_ids = self._chunks(text)
                units.extend(chunk_ids)
                unit_text.extend(chunk_texts)
            owner.append((first, len(units) - first))
        probs = self.probabilities(units)
        weights = np.array([len(u) for u in units], dtype=np.float64)
        preds: list[Prediction] = []
        for first, count in owner:
            p = probs[first : first + count]
            if count == 1:
                doc = p[0].astype(np.float64)
                evidence: tuple[Evidence, ...] = ()
            else:
                w = weights[first : first + count]
                doc = (p * w[:, None]).sum(axis=0) / w.sum()
                scores = p[:, 2] - p[:, 0]
                lo, hi = int(scores.argmin()), int(scores.argmax())
                evidence = (
                    Evidence(unit_text[first + lo] or "", float(scores[lo])),
                    Evidence(unit_text[first + hi] or "", float(scores[hi])),
                )
            k = int(doc.argmax())
            preds.append(
                Prediction(
                    label=LABELS[k],
                    score=float(doc[2] - doc[0]),
                    p_negative=float(doc[0]),
                    p_neutral=float(doc[1]),
                    p_positive=float(doc[2]),
                    confidence=float(doc[k]),
                    chunks=count,
                    evidence=evidence,
                )
            )
        return preds


def load_classifier(settings, data_dir: Path | None = None) -> Classifier:
    """The served classifier for ``settings`` (a :class:`streams.settings.ModelSettings`).

    Uses ``settings.path`` when given, else the cache entry for the current build key (computed
    from the training data under ``data_dir`` when given and readable, else the newest build of
    the current recipe). Raises :class:`~streams.errors.ModelNotFoundError` with the hint
    "run `finsent model build`" when there is none.
    """
    folder = registry.resolve_model_dir(settings.cache_dir, settings.path, data_dir)
    return Classifier(folder, settings.provider)
