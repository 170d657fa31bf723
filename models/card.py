"""The model card: ``model_card.json`` (machine-readable) and ``MODEL_CARD.md`` (for people)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.registry import CARD_JSON, CARD_MD


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write both card files into ``folder``."""
    (folder / CARD_JSON).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    (folder / CARD_MD).write_text(render_markdown(card))


def _metrics_rows(metrics: dict[str, Any]) -> list[str]:
    rows = ["| model file | eval set | rows | accuracy | weighted F1 |", "|---|---|---|---|---|"]
    for variant, sets in metrics.items():
        for name, m in sets.items():
            rows.append(
                f"| {variant} | {name} | {m['rows']} | {m['accuracy']:.4f} | "
                f"{m['f1_weighted']:.4f} |"
            )
    return rows


def _members(members: list[dict[str, Any]]) -> str:
    if len(members) == 1:
        return f"({members[0]['steps']} steps in {members[0]['seconds']:.0f} s)"
    seeds = ", ".join(str(m["seed"]) for m in members)
    seconds = sum(m["seconds"] for m in members)
    return (
        f"{len(members)} times (seeds {seeds}; {members[0]['steps']} steps each, {seconds:.0f} s "
        "in all), their probabilities averaged"
    )


def render_teacher(teacher: dict[str, Any], hp: dict[str, Any]) -> str:
    """The card's line on the teacher (its record from :func:`models.distill.ensure_teachers`,
    with the build's count of unlabeled texts by source) and what the student learned from it
    (the recipe's hyper-parameters ``hp``)."""
    counts = [f"{n:,} {source}" for source, n in teacher["unlabeled"].items() if n]
    *rest, last = counts or ["no unlabeled texts"]
    return (
        f"- distilled from a {teacher['base']} teacher fine-tuned on the same labeled rows "
        f"{_members(teacher['members'])}, loss weight {hp['distill_weight']} on its soft labels "
        f"at temperature {hp['distill_temperature']}, plus, with the teacher's labels only, "
        + (f"{', '.join(rest)} and {last}" if rest else last)
    )


def render_markdown(card: dict[str, Any]) -> str:
    teacher = card.get("teacher")
    lines = [
        f"# finsent sentiment classifier {card['version']}",
        "",
        f"Labels (index order): {', '.join(card['labels'])}. score = p(positive) - p(negative).",
        "",
        f"- base model: {card['base_model']['name']} ({card['base_model']['parameters']:,} "
        f"parameters, packaged as {', '.join(f'`{d}`' for d in card['base_model']['packages'])})",
        *([render_teacher(teacher, card["hyperparameters"])] if teacher else []),
        f"- build key: `{card['build_key']}` (build format {card['build_format']})",
        f"- served files: `{card['files']['cpu']}` (CPU, fused graph, dynamic INT8, version "
        f"{card['versions']['cpu']}), `{card['files']['cuda']}` (CUDA/TensorRT, FP16, version "
        f"{card['versions']['cuda']})",
        "- temperatures (softmax(logits / T), fitted on "
        f"{card['rows']['calibration']} held-out training rows): "
        + ", ".join(f"`{k}` {v:.3f}" for k, v in card["temperature"].items()),
        f"- window: {card['max_tokens']} tokens; longer text is chunked on sentence boundaries",
        f"- built: {card['built_at']}",
        "",
        f"## Training data of the `{card['model_name']}` model",
        "",
        "| set | licence | rows | negative | neutral | positive | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in card["training_data"]:
        c = s["label_counts"]
        lines.append(
            f"| {s['name']} | {s['licence']} | {s['rows']} | {c['negative']} | "
            f"{c['neutral']} | {c['positive']} | {s['note']} |"
        )
    hp = card["hyperparameters"]
    lines += [
        "",
        "Never trained on: Twitter financial news valid, FOMC"
        + (
            ", Financial PhraseBank (any subset)."
            if card["model_name"] == "default"
            else "; of Financial PhraseBank only the FinGPT train split (evaluations drop "
            "every sentence it trained on)."
        ),
        "",
        "## Hyper-parameters",
        "",
        ", ".join(f"{k}={v}" for k, v in hp.items()),
        f"; {card['training']['steps']} steps in {card['training']['seconds']} s on "
        f"{card['training']['threads']} CPU threads.",
        "",
        "## Metrics",
        "",
        *(_metrics_rows(card["metrics"]) if "metrics" in card else ["(not evaluated yet)"]),
        *(_metrics_rows({"teacher (torch FP32)": card["teacher"]["eval"]})[2:] if teacher else []),
        "",
        "## Export checks",
        "",
        f"- ONNX FP32 vs torch on {card['export']['validation']['texts']} Twitter-valid texts: "
        f"max abs logit difference {card['export']['validation']['max_abs_diff']:.2e} "
        f"(tolerance {card['export']['validation']['tolerance']:.0e}) — "
        f"{'passed' if card['export']['validation']['passed'] else 'FAILED'}",
        *(
            f"- {name} vs FP32 label agreement on {a['texts']} texts: {a['agreement']:.4f}"
            for name, a in card["export"]["agreement_with_fp32"].items()
        ),
        f"- opset {card['export']['opset']}, inputs {', '.join(card['export']['inputs'])}, "
        "dynamic batch and sequence axes",
        "",
        "## Licences",
        "",
        "Trained on MIT (Twitter financial news) and ODC-BY 1.0 (FinEntity, attribution: Tang "
        "et al., EMNLP 2023) data"
        + (
            ", and unlabeled sentences of SEC 8-K and 10-K filings (public records)"
            if teacher
            else ""
        )
        + (
            "; Financial PhraseBank (CC BY-NC-SA 3.0) is used for evaluation only."
            if card["model_name"] == "default"
            else ", and Financial PhraseBank (CC BY-NC-SA 3.0): research, non-commercial use only."
        ),
        "",
    ]
    return "\n".join(lines)
