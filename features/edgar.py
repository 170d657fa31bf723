"""EDGAR filings as analysts read them: HTML or full-text submissions → metadata and sections.

HTML is parsed with BeautifulSoup on lxml; inline-XBRL tags are unwrapped (their text is the
filing's text) and the hidden XBRL header is dropped. The text is rebuilt one block element per
line, numeric tables are left out, and item headings ("Item 1A. Risk Factors", "Item 2.02
Results of Operations …") cut it into sections. Boilerplate is removed: the cover page (before
the first item), signatures, forward-looking-statement disclaimers, running page headers and
footers. A full-text submission (``<SEC-HEADER>`` and ``<DOCUMENT>`` blocks) gives its header
fields, the main document's items and each EX-99 exhibit as one section.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime

# An item heading on its own line: "Item 7.", "ITEM 1A — RISK FACTORS", "Item 2.02 Results …".
_ITEM = re.compile(
    r"^item\s+(\d{1,2}[a-c]?(?:\.\d{2})?)\s*[.:\-\u2013\u2014]?\s*(.{0,160})$", re.IGNORECASE
)
_PART = re.compile(r"^part\s+(i{1,3}|iv)\b\.?\s*(.{0,120})$", re.IGNORECASE)
_SIGNATURES = re.compile(r"^signatures?\.?$", re.IGNORECASE)
# A paragraph that is a forward-looking-statement or safe-harbour disclaimer.
_FLS = re.compile(
    r"forward[-\s]looking\s+statements?|private\s+securities\s+litigation\s+reform\s+act"
    r"|safe\s+harbou?r",
    re.IGNORECASE,
)
_SGML_FIELD = re.compile(r"^\s*([A-Z][A-Z \-]+):\s*(.+?)\s*$", re.MULTILINE)
_DOCUMENT = re.compile(r"<DOCUMENT>(.*?)</DOCUMENT>", re.DOTALL | re.IGNORECASE)
_DOC_TAG = re.compile(r"^<(TYPE|FILENAME|DESCRIPTION)>([^\n<]*)", re.MULTILINE | re.IGNORECASE)
_TEXT = re.compile(r"<TEXT>(.*?)(?:</TEXT>|$)", re.DOTALL | re.IGNORECASE)
_SPACE = re.compile(r"[ \t\u00a0\u2002-\u200b]+")
_ANY_SPACE = re.compile(r"[\s\u00a0\u2002-\u200b]+")
_DIGITS = re.compile(r"\d+")
_BREAK = "\ue000"  # stands for a block boundary while the text is flattened
_BLOCKS = (
    "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "table", "center",
    "blockquote", "pre", "title",
)  # fmt: skip

# The sections worth scoring, per form: where the meaning is (risk, discussion, results).
FOCUS_ITEMS: dict[str, tuple[str, ...]] = {
    "10-K": ("Item 1", "Item 1A", "Item 3", "Item 7", "Item 7A"),
    "10-Q": ("Part I Item 2", "Part I Item 3", "Part II Item 1", "Part II Item 1A"),
}
# 8-K items that are not prose about the company: the exhibit list.
EIGHT_K_SKIPPED = ("Item 9.01",)


@dataclass(frozen=True)
class FilingSection:
    """One item or exhibit: ``name`` ("Item 1A", "Part I Item 2", "EX-99.1"), its heading, text."""

    name: str
    title: str
    text: str


@dataclass(frozen=True)
class ParsedFiling:
    """What a filing says about itself, and its sections in document order."""

    form: str | None = None
    cik: str | None = None
    company: str | None = None
    filed: date | None = None
    period: date | None = None
    accession: str | None = None
    sections: tuple[FilingSection, ...] = field(default=())

    def focus_sections(self) -> tuple[FilingSection, ...]:
        """The sections to score: the focus items of the form, every 8-K item but the exhibit
        list, and press-release exhibits; all sections for forms without a focus list."""
        form = (self.form or "").upper().removesuffix("/A")
        if form in FOCUS_ITEMS:
            keep = FOCUS_ITEMS[form]
            return tuple(s for s in self.sections if s.name in keep or s.name.startswith("EX-"))
        return tuple(s for s in self.sections if s.name not in EIGHT_K_SKIPPED)


def parse_filing(content: str) -> ParsedFiling:
    """Parse an EDGAR HTML document or a full-text submission (``.txt`` with ``<DOCUMENT>``)."""
    documents = _DOCUMENT.findall(content)
    if not documents:
        return _parse_html_document(content, doc_type=None)
    header = _sgml_header(content)
    main: ParsedFiling | None = None
    exhibits: list[FilingSection] = []
    for block in documents:
        tags = {k.upper(): v.strip() for k, v in _DOC_TAG.findall(block)}
        doc_type = tags.get("TYPE", "").upper()
        text_match = _TEXT.search(block)
        body = text_match.group(1) if text_match else block
        if doc_type.startswith("EX-99"):
            text = "\n".join(_drop_boilerplate(_without_running_lines(_lines(body))))
            if text:
                exhibits.append(FilingSection(doc_type, tags.get("DESCRIPTION", doc_type), text))
        elif main is None and not doc_type.startswith(("EX-", "GRAPHIC", "ZIP", "XML", "JSON")):
            main = _parse_html_document(body, doc_type=doc_type or None)
    main = main or ParsedFiling()
    return replace(
        main,
        form=header.get("CONFORMED SUBMISSION TYPE") or main.form,
        cik=_cik(header.get("CENTRAL INDEX KEY")) or main.cik,
        company=header.get("COMPANY CONFORMED NAME") or main.company,
        filed=_sgml_date(header.get("FILED AS OF DATE")) or main.filed,
        period=_sgml_date(header.get("CONFORMED PERIOD OF REPORT")) or main.period,
        accession=header.get("ACCESSION NUMBER") or main.accession,
        sections=main.sections + tuple(exhibits),
    )


def _parse_html_document(markup: str, doc_type: str | None) -> ParsedFiling:
    soup = _soup(markup)
    dei = _dei_facts(soup)
    form = (dei.get("DocumentType") or doc_type or "").upper() or None
    lines = _without_running_lines(_lines_from_soup(soup))
    return ParsedFiling(
        form=form,
        cik=_cik(dei.get("EntityCentralIndexKey")),
        company=dei.get("EntityRegistrantName") or None,
        period=_text_date(dei.get("DocumentPeriodEndDate", "")),
        sections=tuple(_split_items(lines, with_part=(form or "").startswith("10-Q"))),
    )


def _soup(markup: str):
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml")


def _dei_facts(soup) -> dict[str, str]:
    """The document-and-entity facts tagged in inline XBRL (``dei:DocumentType`` …)."""
    facts: dict[str, str] = {}
    for tag in soup.find_all(attrs={"name": re.compile(r"^dei:")}):
        value = _SPACE.sub(" ", tag.get_text(" ")).strip()
        name = tag["name"].split(":", 1)[1]
        if value and name not in facts:
            facts[name] = value
    return facts


def _lines(markup: str) -> list[str]:
    """Visible text of an HTML (or plain-text) document, one block element per line."""
    if "<" not in markup:
        return _clean_lines(markup.splitlines())
    return _lines_from_soup(_soup(markup))


def _lines_from_soup(soup) -> list[str]:
    for hidden in soup.find_all(["ix:header", "script", "style", "head"]):
        hidden.decompose()
    for hidden in soup.find_all(style=re.compile(r"display\s*:\s*none", re.IGNORECASE)):
        hidden.decompose()
    for table in soup.find_all("table"):
        if table.find_parent("table") is None:
            _flatten_table(table)
    for block in soup.find_all(_BLOCKS):
        block.insert_before(_BREAK)
        block.insert_after(_BREAK)
    # Line breaks in the markup are only white space; the block elements make the lines.
    return _clean_lines(_ANY_SPACE.sub(" ", soup.get_text()).split(_BREAK))


def _flatten_table(table) -> None:
    """Replace a layout table (prose in one or two cells a row) by its rows; drop data tables."""
    rows = []
    for tr in table.find_all("tr"):
        cells = [_SPACE.sub(" ", td.get_text(" ")).strip() for td in tr.find_all(["td", "th"])]
        cells = [c for c in cells if c and c not in {"$", "%", ")", "(", "\u2022", "\u25cf"}]
        if cells:
            rows.append(cells)
    text = " ".join(" ".join(r) for r in rows)
    letters = sum(ch.isalpha() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    prose = rows and max(len(r) for r in rows) <= 2 and letters > 4 * digits
    table.replace_with(_BREAK.join(" ".join(r) for r in rows) if prose else _BREAK)


def _clean_lines(raw: list[str]) -> list[str]:
    lines = [_SPACE.sub(" ", line).strip() for line in raw]
    return [line for line in lines if line]


def _without_running_lines(lines: list[str]) -> list[str]:
    """Drop running page headers and footers: short lines that recur (page numbers aside)."""
    shape = [_DIGITS.sub("#", line) if len(line) < 100 else "" for line in lines]
    repeats = Counter(s for s in shape if s)
    return [
        line
        for line, s in zip(lines, shape, strict=True)
        if not s or repeats[s] < 3 or _ITEM.match(line) or _PART.match(line)
    ]


def _drop_boilerplate(lines: list[str]) -> list[str]:
    """Without page numbers, disclaimers and what follows SIGNATURES."""
    kept: list[str] = []
    for line in lines:
        if _SIGNATURES.match(line):
            break
        if line.replace("-", "").replace(" ", "").isdigit() or _is_page_marker(line):
            continue
        if _FLS.search(line):
            continue
        kept.append(line)
    return kept


def _is_page_marker(line: str) -> bool:
    return bool(re.fullmatch(r"(?:page\s+)?[ivxlc\d]+(?:\s+of\s+\d+)?", line, re.IGNORECASE))


def _split_items(lines: list[str], *, with_part: bool) -> list[FilingSection]:
    """Cut ``lines`` at item headings; of repeated items (table of contents) keep the longest."""
    spans: list[tuple[str, str, int, int]] = []  # (name, title, first body line, end)
    part = ""
    current: tuple[str, str, int] | None = None
    for i, line in enumerate(lines):
        part_match = _PART.match(line)
        if part_match and len(line) < 140:
            part = f"Part {part_match.group(1).upper()}"
            if current:
                spans.append((*current, i))
                current = None
            continue
        item = _ITEM.match(line) if len(line) < 200 else None
        if item:
            if current:
                spans.append((*current, i))
            number = item.group(1).upper()
            name = f"{part} Item {number}" if with_part and part else f"Item {number}"
            current = (name, item.group(2).strip(" .:"), i + 1)
        elif _SIGNATURES.match(line) and current:
            spans.append((*current, i))
            current = None
    if current:
        spans.append((*current, len(lines)))
    best: dict[str, FilingSection] = {}
    order: dict[str, int] = {}
    for name, title, start, end in spans:
        text = "\n".join(_drop_boilerplate(lines[start:end]))
        if not text:
            continue
        if name not in best or len(text) > len(best[name].text):
            best[name] = FilingSection(name, title, text)
            order[name] = start
    names = sorted(best, key=order.__getitem__)
    return [_titled(best[name]) for name in names]


def _titled(section: FilingSection) -> FilingSection:
    """A heading split over two lines ("Item 1A." then "Risk Factors") takes the next line."""
    if section.title:
        return section
    first, _, rest = section.text.partition("\n")
    if len(first) < 120 and rest:
        return replace(section, title=first.strip(" .:"), text=rest)
    return section


def _sgml_header(content: str) -> dict[str, str]:
    end = content.find("<DOCUMENT>")
    header = content[: end if end >= 0 else 0]
    fields: dict[str, str] = {}
    for key, value in _SGML_FIELD.findall(header):
        fields.setdefault(key.strip(), value)
    return fields


def _cik(value: str | None) -> str | None:
    value = (value or "").strip()
    return str(int(value)) if value.isdigit() else None


def _sgml_date(value: str | None) -> date | None:
    try:
        return datetime.strptime((value or "").strip(), "%Y%m%d").date()
    except ValueError:
        return None


def _text_date(value: str) -> date | None:
    value = value.replace(",", ", ").strip()
    value = _SPACE.sub(" ", value).replace(" ,", ",")
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None
