"""Sentence-boundary chunking on real 8-K filing text, with a whitespace token counter."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from features.chunking import (
    chunk_text,
    sentence_spans,
    split_sentences,
    whitespace_token_spans,
)

MAX_TOKENS = 60


def _count(text: str) -> int:
    return len(whitespace_token_spans(text))


@pytest.fixture(scope="module")
def filing_items(data_dir: Path) -> list[str]:
    """The 20 longest non-empty 8-K items of the data folder."""
    path = data_dir / "streams" / "filings" / "sec_8k_items.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found; set FINSENT_DATA")
    items: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            items.extend(v for k, v in rec.items() if k.startswith("item_") and v)
    items.sort(key=len, reverse=True)
    return items[:20]


def test_every_chunk_fits(filing_items: list[str]) -> None:
    for text in filing_items:
        chunks = chunk_text(text, whitespace_token_spans, MAX_TOKENS)
        assert len(chunks) > 1
        for c in chunks:
            assert c.tokens <= MAX_TOKENS
            # summed per sentence: an upper bound on the count of the joined text
            assert _count(c.text) <= c.tokens


def test_no_text_lost(filing_items: list[str]) -> None:
    for text in filing_items:
        chunks = chunk_text(text, whitespace_token_spans, MAX_TOKENS)
        # chunks are verbatim, ordered, non-overlapping spans of the source ...
        pos = 0
        for c in chunks:
            assert text[c.start : c.end] == c.text
            assert c.start >= pos
            # ... and only whitespace lies between them
            assert text[pos : c.start].strip() == ""
            pos = c.end
        assert text[pos:].strip() == ""
        # so every non-space character survives, in order
        assert re.sub(r"\s+", "", "".join(c.text for c in chunks)) == re.sub(r"\s+", "", text)
        # and every sentence is covered by some chunk
        for a, b in sentence_spans(text):
            assert (
                any(c.start <= a and b <= c.end for c in chunks) or _count(text[a:b]) > MAX_TOKENS
            )


def test_sentence_boundaries_respected(filing_items: list[str]) -> None:
    for text in filing_items:
        spans = sentence_spans(text)
        starts = {a for a, _ in spans}
        ends = {b for _, b in spans}
        long_spans = [(a, b) for a, b in spans if _count(text[a:b]) > MAX_TOKENS]

        def in_long(pos: int, spans=long_spans) -> bool:
            return any(a < pos < b for a, b in spans)

        for c in chunk_text(text, whitespace_token_spans, MAX_TOKENS):
            # a chunk starts and ends on a sentence boundary, except where an over-long
            # sentence had to be cut by tokens
            assert c.start in starts or in_long(c.start), repr(c.text[:80])
            assert c.end in ends or in_long(c.end), repr(c.text[-80:])


def test_sentences_are_packed_not_one_per_chunk(filing_items: list[str]) -> None:
    text = filing_items[0]
    chunks = chunk_text(text, whitespace_token_spans, MAX_TOKENS)
    assert len(chunks) < len(split_sentences(text))
    # greedy packing: the next chunk's first sentence did not fit into the previous chunk
    first_tokens = {a: _count(text[a:b]) for a, b in sentence_spans(text)}
    for left, right in itertools.pairwise(chunks):
        if right.start in first_tokens:
            assert left.tokens + first_tokens[right.start] > MAX_TOKENS


def test_over_long_sentence_is_split_by_tokens() -> None:
    words = [f"w{i}" for i in range(250)]
    text = "Short opener. " + " ".join(words) + ". Short closer."
    chunks = chunk_text(text, whitespace_token_spans, 100)
    assert [c.tokens for c in chunks] == [2, 100, 100, 52]
    assert chunks[1].text.startswith("w0 ") and chunks[3].text.endswith("w249. Short closer.")


def test_blank_and_short_text() -> None:
    assert chunk_text("   \n ", whitespace_token_spans, 10) == []
    (only,) = chunk_text("Revenue rose 5%.", whitespace_token_spans, 10)
    assert only.text == "Revenue rose 5%." and only.tokens == 3


def test_line_breaks_are_boundaries() -> None:
    text = "Item 9.01 Financial Statements and Exhibits\n(d) Exhibits\n99.1 Press release"
    assert split_sentences(text) == [
        "Item 9.01 Financial Statements and Exhibits",
        "(d) Exhibits",
        "99.1 Press release",
    ]


# --- chunk-to-document aggregation ----------------------------------------------------------


def test_combine_is_token_weighted_mean() -> None:
    import numpy as np

    from models.aggregate import combine_chunks

    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    doc = combine_chunks(probs, np.array([100, 50, 50]))
    assert doc.probs == pytest.approx([0.45, 0.275, 0.275])
    assert doc.probs.sum() == pytest.approx(1.0)
    assert (doc.most_negative, doc.most_positive) == (0, 2)
    # equal lengths: the plain mean; one chunk: itself
    assert combine_chunks(probs, np.ones(3)).probs == pytest.approx(probs.mean(axis=0))
    assert combine_chunks(probs[1:2], np.array([7])).probs == pytest.approx(probs[1])


def test_combine_evidence_follows_the_score_not_the_label() -> None:
    import numpy as np

    from models.aggregate import combine_chunks

    # chunk 1 is "neutral" by argmax but leans more negative (score -0.3) than chunk 0 (-0.2)
    probs = np.array([[0.3, 0.6, 0.1], [0.35, 0.6, 0.05], [0.2, 0.3, 0.5]])
    doc = combine_chunks(probs, np.array([10, 10, 10]))
    assert (doc.most_negative, doc.most_positive) == (1, 2)


def test_combine_rejects_bad_shapes() -> None:
    import numpy as np

    from models.aggregate import combine_chunks

    with pytest.raises(ValueError):
        combine_chunks(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError):
        combine_chunks(np.ones((2, 3)) / 3, np.array([1]))
    with pytest.raises(ValueError):
        combine_chunks(np.ones((2, 3)) / 3, np.array([1, 0]))
