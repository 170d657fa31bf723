"""Text cleaning shared by training and serving: the model should read the same kind of text."""

from __future__ import annotations

import html
import re
import unicodedata

# Tokens, not parsing: a URL is anything from a scheme (or "www.") to the next white space.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>\n]{0,200}>")
_SPACE = re.compile(r"\s+")
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


def clean_text(text: str) -> str:
    """Return ``text`` as the model should read it.

    Unicode is normalised (NFKC), HTML entities are decoded, stray tags, URLs and control
    characters are removed, and runs of white space become one space.
    """
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = text.translate(_CONTROL)
    text = _URL.sub(" ", text)
    text = _TAG.sub(" ", text)
    return _SPACE.sub(" ", text).strip()
