"""Matplotlib figures of sentiment series (``finsent plot``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def score_and_volume(frame: pd.DataFrame, ticker: str, per: str, out: Path) -> None:
    """Average score per bucket (dots) and its rolling mean, document-weighted, over 7 days
    (per day) or 60 minutes (per minute); document counts (bars) below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time_column = "day" if per == "day" else "minute"
    times = pd.to_datetime(frame[time_column])
    fig, (ax_score, ax_volume) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 6), gridspec_kw={"height_ratios": [3, 1]}
    )
    ax_score.axhline(0, color="grey", linewidth=0.8)
    ax_score.plot(times, frame["avg_score"], ".", color="tab:blue", alpha=0.5, label="score")
    window, label = ("7D", "7-day") if per == "day" else ("60min", "60-minute")
    indexed = frame.set_index(times)
    weighted = (indexed["avg_score"] * indexed["documents"]).rolling(window).sum()
    rolling = weighted / indexed["documents"].rolling(window).sum()
    ax_score.plot(times, rolling.to_numpy(), color="tab:blue", label=f"{label} rolling mean")
    ax_score.set_ylim(-1.05, 1.05)
    ax_score.set_ylabel("score = p(pos) - p(neg)")
    ax_score.set_title(f"{ticker}: sentiment and volume per {per}")
    ax_score.legend(loc="lower left")
    ax_volume.bar(times, frame["documents"], width=0.8 if per == "day" else 0.0005,
                  color="tab:grey")  # fmt: skip
    ax_volume.set_ylabel("documents")
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
