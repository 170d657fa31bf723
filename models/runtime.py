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
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.chunking import chunk_text
from features.cleaning import clean_text
from models import registry
from models.aggregate import combine_chunks
from models.data import LABELS
from streams.errors import FinsentError

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEFAULT_MAX_TOKENS = 128  # the model window, special tokens included
DEFAULT_BATCH_SIZE = 64
DEFAULT_CACHE_SIZE = 4096  # probabilities of recently seen single-window texts
_FILES = {"int8": registry.INT8_ONNX, "fp32": registry.FP32_ONNX, "fp16": registry.FP16_ONNX}


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

    @classmethod
    def from_probabilities(
        cls, probs: np.ndarray, chunks: int, evidence: tuple[Evidence, ...]
    ) -> Prediction:
        """The verdict for class probabilities ordered as :data:`LABELS`."""
        doc = np.asarray(probs, dtype=np.float64)
        k = int(doc.argmax())
        return cls(
            label=LABELS[k],
            score=float(doc[2] - doc[0]),
            p_negative=float(doc[0]),
            p_neutral=float(doc[1]),
            p_positive=float(doc[2]),
            confidence=float(doc[k]),
            chunks=chunks,
            evidence=evidence,
        )


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


def gpu_providers(available: Sequence[str], cache_dir: Path | None = None) -> list:
    """The provider list for a GPU session: TensorRT (FP16, engine cache) when onnxruntime has
    it, then CUDA, then the CPU for any node neither takes."""
    providers: list = []
    if TENSORRT in available:
        trt = {"trt_fp16_enable": True}
        if cache_dir is not None:
            trt |= {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir)}
        providers.append((TENSORRT, trt))
    providers += [CUDA, CPU]
    return providers


def _gpu_session(path: Path, threads: int):
    """An ORT session on the GPU (TensorRT or CUDA), or the reason there is none."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if CUDA not in available:
        return None, f"{CUDA} is not in onnxruntime's available providers"
    if not _gpu_device_present():
        return None, "no NVIDIA GPU device on this machine"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # CUDA/cuDNN from the nvidia-* wheels, when installed
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
            preload()
    engines = path.parent / "trt-engines"
    with contextlib.suppress(OSError):
        engines.mkdir(exist_ok=True)
    providers = gpu_providers(available, engines if engines.is_dir() else None)
    try:
        sess = ort.InferenceSession(str(path), _session_options(threads), providers=providers)
    except Exception as exc:  # CUDA/cuDNN/TensorRT libraries missing or mismatched
        if TENSORRT not in available:
            return None, f"CUDA session creation failed: {exc}"
        log.info("TensorRT session failed (%s); trying CUDA alone", exc)
        try:
            sess = ort.InferenceSession(str(path), _session_options(threads), providers=[CUDA, CPU])
        except Exception as exc2:
            return None, f"CUDA session creation failed: {exc2}"
    if sess.get_providers()[0] not in (TENSORRT, CUDA):
        return None, "onnxruntime could not start CUDA (no GPU, or CUDA/cuDNN mismatch)"
    try:
        _probe(sess)
    except Exception as exc:
        return None, f"CUDA session cannot run: {exc}"
    return sess, ""


class Classifier:
    """A served sentiment model: ``predict(texts)`` gives one :class:`Prediction` per text.

    ``provider``: ``cuda`` (GPU or error), ``auto`` (GPU with the FP16 model when usable, else
    CPU with the INT8 model), ``cpu`` (INT8 on the CPU). ``variant`` (``int8`` | ``fp32`` |
    ``fp16``) forces the model file, e.g. to evaluate FP32 on the CPU. Probabilities are
    ``softmax(logits / T)`` with the file's temperature ``T`` from the model card (fitted on
    held-out training rows); pass ``temperature`` to override it (1.0: raw).
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
        temperature: float | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if provider not in ("auto", "cuda", "cpu"):
            raise FinsentError(f"provider must be auto, cuda or cpu, got {provider!r}")
        if variant not in (None, *_FILES):
            raise FinsentError(f"variant must be one of {', '.join(_FILES)}, got {variant!r}")
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
            gpu_file = self.folder / _FILES[variant or "fp16"]
            if not gpu_file.is_file():  # a folder from an older build format
                gpu_file = self.folder / registry.FP32_ONNX
            sess, why = _gpu_session(gpu_file, threads)
            if sess is None and provider == "cuda":
                raise FinsentError(f"FINSENT_MODEL_PROVIDER=cuda but the GPU is not usable: {why}")
            if sess is None:
                log.info("no usable GPU (%s); using the CPU", why)
            else:
                self.model_file = gpu_file
        if sess is None:
            self.model_file = self.folder / _FILES[variant or "int8"]
            sess = ort.InferenceSession(
                str(self.model_file), _session_options(threads), providers=[CPU]
            )
        self._sess = sess
        self.provider: str = sess.get_providers()[0]
        self._on_gpu = self.provider in (TENSORRT, CUDA)
        self._inputs = {i.name for i in sess.get_inputs()}
        self.version: str = registry.short_version(self.model_file)
        if temperature is None:
            temperature = float(self.card.get("temperature", {}).get(self.model_file.name, 1.0))
        if not temperature > 0:
            raise FinsentError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._tok = Tokenizer.from_file(str(self.folder / registry.TOKENIZER_FILE))
        self._tok.no_truncation()
        self._tok.no_padding()
        self._pad_id = self._tok.token_to_id("[PAD]") or 0
        self._cls = self._tok.token_to_id("[CLS]")
        self._sep = self._tok.token_to_id("[SEP]")
        log.info(
            "model %s (%s) on %s, %d threads, T=%.3f",
            self.version,
            self.model_file.name,
            self.provider,
            threads,
            self.temperature,
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
        return [p.text for p in pieces], [self._fit(e.ids) for e in encs]

    def _fit(self, ids: list[int]) -> list[int]:
        """``ids`` cut to the window, keeping the final [SEP]."""
        if len(ids) <= self.max_tokens:
            return ids
        return [*ids[: self.max_tokens - 1], self._sep]

    def _run(self, batch: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": batch, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(batch)
        if not self._on_gpu:
            return self._sess.run(["logits"], feed)[0]
        # I/O binding: inputs copied to the device once, logits left there until fetched
        binding = self._sess.io_binding()
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output("logits", "cuda")
        self._sess.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def logits(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Raw logits of token-id sequences, batched by similar length (padding only to the
        longest of each length bucket)."""
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
            out[rows] = self._run(batch, mask).astype(np.float32)
        return out

    def probabilities(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Calibrated class probabilities ``softmax(logits / T)`` of token-id sequences."""
        return _softmax(self.logits(ids) / self.temperature)

    def text_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits of texts as given (no cleaning, cut to one window): for calibration."""
        return self.logits([self._fit(e.ids) for e in self._tok.encode_batch(list(texts))])

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Score ``texts`` (any length): one :class:`Prediction` per text, in order.

        Each text is cleaned first (:func:`features.cleaning.clean_text`: URLs, tags, entities
        and white space do not change a verdict). A text longer than the window is split into
        sentence-aligned chunks whose probabilities are combined, token-weighted, into one;
        its evidence is the most negative and the most positive chunk. Verdicts on recently
        seen single-window texts come from a cache.
        """
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts, not one string")
        texts = [clean_text(t if isinstance(t, str) else str(t)) for t in texts]
        hits: dict[str, np.ndarray] = {}
        for t in texts:
            if t in self._cache:
                hits[t] = self._cache[t]
                self._cache.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in hits))
        encs = self._tok.encode_batch(todo)
        units: list[list[int]] = []
        unit_text: list[str] = []
        owner: dict[str, tuple[int, int]] = {}  # text -> (first unit, count)
        for text, enc in zip(todo, encs, strict=True):
            first = len(units)
            if len(enc.ids) <= self.max_tokens:
                units.append(enc.ids)
                unit_text.append(text)
            else:
                chunk_texts, chunk_ids = self._chunks(text)
                units.extend(chunk_ids)
                unit_text.extend(chunk_texts)
            owner[text] = (first, len(units) - first)
        probs = self.probabilities(units) if units else np.zeros((0, len(LABELS)))
        fresh: dict[str, Prediction] = {}
        for text, (first, count) in owner.items():
            p = probs[first : first + count]
            if count == 1:
                fresh[text] = Prediction.from_probabilities(p[0], 1, ())
                self._remember(text, p[0])
                continue
            doc = combine_chunks(p, np.array([len(u) for u in units[first : first + count]]))
            lo, hi = doc.most_negative, doc.most_positive
            evidence = (
                Evidence(unit_text[first + lo], float(p[lo, 2] - p[lo, 0])),
                Evidence(unit_text[first + hi], float(p[hi, 2] - p[hi, 0])),
            )
            fresh[text] = Prediction.from_probabilities(doc.probs, count, evidence)
        return [
            fresh[t] if t in fresh else Prediction.from_probabilities(hits[t], 1, ()) for t in texts
        ]

    def _remember(self, text: str, probs: np.ndarray) -> None:
        if self._cache_size <= 0:
            return
        self._cache[text] = probs
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget cached verdicts (benchmarks measure the model, not the cache)."""
        self._cache.clear()


def load_classifier(settings, data_dir: Path | None = None) -> Classifier:
    """The served classifier for ``settings`` (a :class:`streams.settings.ModelSettings`).

    Uses ``settings.path`` when given, else the cache entry for the current build key (computed
    from the training data under ``data_dir`` when given and readable, else the newest build of
    the current recipe). Raises :class:`~streams.errors.ModelNotFoundError` with the hint
    "run `finsent model build`" when there is none.
    """
    config = registry.recipe(getattr(settings, "name", "default"))
    folder = registry.resolve_model_dir(settings.cache_dir, settings.path, data_dir, config)
    return Classifier(folder, settings.provider)
