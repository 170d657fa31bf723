"""Chunk-to-document aggregation: the probabilities of a long document's chunks → one verdict.

Pure numpy, no model: the runtime calls it, the tests check it on made-up chunk scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Combined:
    """A document's probabilities and the chunks that moved it most each way."""

    probs: np.ndarray  # (3,) negative, neutral, positive; sums to 1
    most_negative: int  # index of the chunk with the lowest p_positive - p_negative
    most_positive: int  # index of the chunk with the highest p_positive - p_negative


def combine_chunks(probs: np.ndarray, tokens: np.ndarray) -> Combined:
    """Token-weighted mean of chunk probabilities (a 100-token chunk counts twice a 50-token
    one, so the document reads as if the model had seen it whole), and the evidence chunks.

    ``probs``: (n, 3) rows summing to 1; ``tokens``: (n,) positive chunk lengths.
    """
    probs = np.asarray(probs, dtype=np.float64)
    w = np.asarray(tokens, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != 3 or len(probs) == 0 or w.shape != (len(probs),):
        raise ValueError(f"need (n, 3) probabilities and n token counts: {probs.shape}, {w.shape}")
    if np.any(w <= 0):
        raise ValueError("chunk token counts must be positive")
    doc = (probs * w[:, None]).sum(axis=0) / w.sum()
    scores = probs[:, 2] - probs[:, 0]
    return Combined(doc, int(scores.argmin()), int(scores.argmax()))
