"""Temperature scaling: one scalar ``T`` per model file so that ``softmax(logits / T)`` is
calibrated, fitted on the training rows held out for it (never on an evaluation set).
"""

from __future__ import annotations

import numpy as np

T_BOUNDS = (0.05, 20.0)


def _nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> dict:
    """The temperature minimising the negative log-likelihood of ``labels`` under
    ``softmax(logits / T)``, with the NLL before and after."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    res = minimize_scalar(lambda t: _nll(logits, labels, t), bounds=T_BOUNDS, method="bounded")
    t = float(res.x)
    return {
        "temperature": round(t, 4),
        "rows": len(labels),
        "nll_before": round(_nll(logits, labels, 1.0), 4),
        "nll_after": round(_nll(logits, labels, t), 4),
    }
