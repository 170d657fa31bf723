"""ONNX export of the fine-tuned model, validation against torch, and INT8 dynamic quantization.

One export spec (:data:`SPEC`) names the opset, the graph inputs and outputs, the dynamic axes and
the tolerance the exported FP32 logits must meet against torch. Imports torch: build-time only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSpec:
    """What the exported graph looks like and how closely it must match torch."""

    opset: int = 17
    inputs: tuple[str, ...] = ("input_ids", "attention_mask")
    outputs: tuple[str, ...] = ("logits",)
    dynamic_axes: dict[str, dict[int, str]] = field(
        default_factory=lambda: {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"},
        }
    )
    # Max abs difference allowed between ONNX FP32 logits and torch logits on real texts.
    tolerance: float = 1e-4
    # token_type_ids is not an input: a single-segment BERT uses all-zero type ids, which the
    # model supplies itself when the argument is absent.


SPEC = ExportSpec()


class _LogitsOnly:
    """Wraps a HF classifier so the traced graph returns a bare logits tensor."""

    def __new__(cls, model):  # returns a torch.nn.Module
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

        return Wrapper(model)


def _load_eager(hf_dir: Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(hf_dir, attn_implementation="eager")
    model.eval()
    return model


def export_onnx(hf_dir: Path, onnx_path: Path, spec: ExportSpec = SPEC) -> None:
    """Export the model saved in ``hf_dir`` to a single-file FP32 ONNX graph."""
    import torch

    model = _LogitsOnly(_load_eager(hf_dir))
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2460, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            str(onnx_path),
            input_names=list(spec.inputs),
            output_names=list(spec.outputs),
            dynamic_axes=spec.dynamic_axes,
            opset_version=spec.opset,
            do_constant_folding=True,
            dynamo=False,
            external_data=False,
        )
    import onnx

    onnx.checker.check_model(str(onnx_path))
    log.info("exported %s (%.1f MB)", onnx_path, onnx_path.stat().st_size / 1e6)


def _encode(tokenizer_dir: Path, texts: Sequence[str], max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    encs = tok.encode_batch(list(texts))
    ids = np.array([e.ids for e in encs], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
    return ids, mask


def _cpu_session(onnx_path: Path):
    import onnxruntime as ort

    from models.runtime import cpu_threads

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_threads()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def onnx_logits(
    onnx_path: Path,
    tokenizer_dir: Path,
    texts: Sequence[str],
    *,
    max_length: int = 128,
    batch_size: int = 64,
) -> np.ndarray:
    """Logits of an ONNX model (CPU) on ``texts``."""
    sess = _cpu_session(onnx_path)
    out = []
    for i in range(0, len(texts), batch_size):
        ids, mask = _encode(tokenizer_dir, texts[i : i + batch_size], max_length)
        out.append(sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0])
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)


def torch_logits(
    hf_dir: Path,
    tokenizer_dir: Path,
    texts: Sequence[str],
    *,
    max_length: int = 128,
    batch_size: int = 64,
) -> np.ndarray:
    """Logits of the torch model saved in ``hf_dir`` on ``texts`` (same tokenization)."""
    import torch

    model = _load_eager(hf_dir)
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            ids, mask = _encode(tokenizer_dir, texts[i : i + batch_size], max_length)
            logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            out.append(logits.logits.numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)


def validate(
    hf_dir: Path,
    onnx_path: Path,
    tokenizer_dir: Path,
    texts: Sequence[str],
    spec: ExportSpec = SPEC,
) -> dict:
    """Compare ONNX FP32 logits with torch logits on real texts; raise if over tolerance."""
    from streams.errors import FinsentError

    ref = torch_logits(hf_dir, tokenizer_dir, texts)
    got = onnx_logits(onnx_path, tokenizer_dir, texts)
    diff = float(np.max(np.abs(ref - got))) if len(texts) else 0.0
    agree = float(np.mean(ref.argmax(1) == got.argmax(1))) if len(texts) else 1.0
    result = {
        "texts": len(texts),
        "max_abs_diff": diff,
        "tolerance": spec.tolerance,
        "label_agreement": agree,
        "passed": diff <= spec.tolerance,
    }
    log.info(
        "ONNX vs torch on %d texts: max abs diff %.2e (tolerance %.0e)",
        len(texts),
        diff,
        spec.tolerance,
    )
    if diff > spec.tolerance:
        raise FinsentError(
            f"ONNX export does not match torch: max abs diff {diff:.2e} > {spec.tolerance:.0e}"
        )
    return result


def _fuse(fp32_path: Path, hf_dir: Path, *, gpu: bool):
    """The transformer-fused graph (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm) of the
    exported model, as an ``onnxruntime.transformers`` OnnxModel.

    Python-side fusions only (``opt_level=0``): no ORT session is started, so a build on a
    machine without a GPU can still write the GPU graph.
    """
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(hf_dir)
    opts = optimizer.FusionOptions("bert")
    fused = optimizer.optimize_model(
        str(fp32_path),
        model_type="bert",
        num_heads=cfg.num_attention_heads,
        hidden_size=cfg.hidden_size,
        optimization_options=opts,
        opt_level=0,
        use_gpu=gpu,
    )
    stats = fused.get_fused_operator_statistics()
    log.info("fused operators: %s", {k: v for k, v in stats.items() if v})
    return fused


def quantize_int8(fp32_path: Path, int8_path: Path, hf_dir: Path) -> dict:
    """The CPU model: transformer fusions, then dynamic INT8 quantization (per-channel QInt8
    weights, activations quantized at run time). Returns the fused-operator counts."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused = _fuse(fp32_path, hf_dir, gpu=False)
    stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    pre = int8_path.with_suffix(".fused.onnx")
    fused.save_model_to_file(str(pre))
    try:
        quantize_dynamic(
            str(pre),
            str(int8_path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
            # fused ops come from the com.microsoft domain, which shape inference cannot type
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        pre.unlink(missing_ok=True)
    log.info("quantized %s (%.1f MB)", int8_path, int8_path.stat().st_size / 1e6)
    return stats


def export_fp16(fp32_path: Path, fp16_path: Path, hf_dir: Path) -> None:
    """The GPU model: fused graph in FP16 with FP32 inputs/outputs kept (``keep_io_types``)."""
    fused = _fuse(fp32_path, hf_dir, gpu=True)
    fused.convert_float_to_float16(keep_io_types=True)
    fused.save_model_to_file(str(fp16_path))
    log.info("FP16 graph %s (%.1f MB)", fp16_path, fp16_path.stat().st_size / 1e6)
