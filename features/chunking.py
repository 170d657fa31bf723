"""Sentence-boundary chunking: split long text into chunks that fit a model window.

Sentences come from pysbd (line breaks are hard boundaries too: filings put headings, list items
and table cells on their own lines). Consecutive sentences are packed greedily into chunks of at
most ``max_tokens`` tokens; a single sentence longer than that is split by tokens. Every chunk is
a contiguous span of the original text (``text[start:end]``), chunks are in order and do not
overlap, and only whitespace between chunks is left out.

Token counting is pluggable: pass ``token_spans``, a function returning the (start, end) character
span of each token of a string (a fast tokenizer's offsets without special tokens, or
:func:`whitespace_token_spans`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

TokenSpans = Callable[[str], list[tuple[int, int]]]

_LINE = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """A piece of the original text: ``text == source[start:end]``; ``tokens`` counted."""

    text: str
    start: int
    end: int
    tokens: int


def whitespace_token_spans(text: str) -> list[tuple[int, int]]:
    """One token per whitespace-separated word (a simple counter for tests and estimates)."""
    return [m.span() for m in _WORD.finditer(text)]


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        base = line.start()
        body = line.group()
        if not body.strip():
            continue
        pos = 0
        for sent in _segmenter().segment(body):
            piece = sent.strip()
            if not piece:
                continue
            at = body.find(piece, pos)
            if at < 0:  # pysbd altered the text; fall back to the rest of the line
                at = pos
                piece = body[pos:].strip()
                if not piece:
                    break
                at = body.index(piece, pos)
            spans.append((base + at, base + at + len(piece)))
            pos = at + len(piece)
        rest = body[pos:].strip()
        if rest:  # anything pysbd did not return
            at = body.index(rest, pos)
            spans.append((base + at, base + at + len(rest)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def chunk_text(text: str, token_spans: TokenSpans, max_tokens: int) -> list[Chunk]:
    """Split ``text`` into sentence-aligned chunks of at most ``max_tokens`` tokens each.

    Sentence token counts are summed to size a chunk (exact for tokenizers that pre-split on
    whitespace, such as BERT WordPiece). Returns ``[]`` for blank text.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    pieces: list[tuple[int, int, int]] = []  # (start, end, tokens), each fits on its own
    for a, b in sentence_spans(text):
        toks = token_spans(text[a:b])
        if len(toks) <= max_tokens:
            pieces.append((a, b, len(toks)))
            continue
        for i in range(0, len(toks), max_tokens):  # an over-long sentence: split by tokens
            group = toks[i : i + max_tokens]
            pieces.append((a + group[0][0], a + group[-1][1], len(group)))

    chunks: list[Chunk] = []
    cur_start = cur_end = cur_tokens = 0
    open_chunk = False
    for a, b, n in pieces:
        if open_chunk and cur_tokens + n <= max_tokens:
            cur_end, cur_tokens = b, cur_tokens + n
            continue
        if open_chunk:
            chunks.append(Chunk(text[cur_start:cur_end], cur_start, cur_end, cur_tokens))
        cur_start, cur_end, cur_tokens, open_chunk = a, b, n, True
    if open_chunk:
        chunks.append(Chunk(text[cur_start:cur_end], cur_start, cur_end, cur_tokens))
    return chunks
