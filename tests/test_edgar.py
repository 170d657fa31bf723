"""EDGAR parsing on the real filings under streams/filings/edgar_html."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.edgar import parse_filing

HTML = "streams/filings/edgar_html"


@pytest.fixture(scope="module")
def parsed(data_dir: Path):
    folder = data_dir / HTML
    return {
        name: parse_filing((folder / name).read_text(encoding="utf-8"))
        for name in (
            "Apple.10-K.html", "Apple.10-Q.html", "Oracle.10-Q.html", "BuckleInc.8-K.html",
            "BuckleInc.8-K.EX99.1.html", "afcgamma.8K.html", "Oracle.8-K.html",
        )
    }  # fmt: skip


def _names(filing) -> list[str]:
    return [s.name for s in filing.sections]


def test_10k_items_and_metadata_come_from_the_inline_xbrl(parsed):
    apple = parsed["Apple.10-K.html"]
    assert (apple.form, apple.cik, apple.company) == ("10-K", "320193", "Apple Inc.")
    assert str(apple.period) == "2024-09-28"
    names = _names(apple)
    for item in ("Item 1", "Item 1A", "Item 3", "Item 7", "Item 7A", "Item 8", "Item 15"):
        assert names.count(item) == 1, item  # the table of contents did not win
    sections = {s.name: s for s in apple.sections}
    assert sections["Item 1A"].title == "Risk Factors"
    assert sections["Item 1A"].text.startswith(
        "The Company\N{RIGHT SINGLE QUOTATION MARK}s business"
    )
    assert len(sections["Item 1A"].text) > 50_000
    assert "Discussion and Analysis" in sections["Item 7"].title
    assert [s.name for s in apple.focus_sections()] == [
        "Item 1", "Item 1A", "Item 3", "Item 7", "Item 7A",
    ]  # fmt: skip


def test_10q_items_are_named_by_part(parsed):
    for name in ("Apple.10-Q.html", "Oracle.10-Q.html"):
        filing = parsed[name]
        assert filing.form == "10-Q"
        focus = [s.name for s in filing.focus_sections()]
        assert focus == ["Part I Item 2", "Part I Item 3", "Part II Item 1", "Part II Item 1A"]
        mdna = next(s for s in filing.sections if s.name == "Part I Item 2")
        assert "Discussion and Analysis" in mdna.title
        assert len(mdna.text) > 10_000


def test_8k_items_exhibit_and_split_headings(parsed):
    buckle = parsed["BuckleInc.8-K.html"]
    assert _names(buckle) == ["Item 2.02", "Item 9.01"]
    assert [s.name for s in buckle.focus_sections()] == ["Item 2.02"]  # not the exhibit list
    exhibit = parsed["BuckleInc.8-K.EX99.1.html"]
    assert _names(exhibit) == ["EX-99.1"]
    assert "Comparable store net sales" in exhibit.sections[0].text
    # "Item" and "5.02" in separate cells and lines of the markup.
    assert _names(parsed["afcgamma.8K.html"]) == ["Item 5.02", "Item 7.01", "Item 9.01"]
    assert _names(parsed["Oracle.8-K.html"]) == ["Item 5.07"]


def test_boilerplate_tables_and_xbrl_are_left_out(parsed):
    for name, filing in parsed.items():
        for section in filing.sections:
            text = section.text
            assert "forward-looking statements" not in text.lower(), (name, section.name)
            assert "Private Securities Litigation Reform Act" not in text
            assert "Pursuant to the requirements of the Securities Exchange Act" not in text
            assert "us-gaap:" not in text and "xbrli:" not in text
            assert "Form 10-K |" not in text and "Form 10-Q |" not in text  # page footers
            assert "UNITED STATES SECURITIES AND EXCHANGE COMMISSION" not in text.upper()
    mdna = next(s for s in parsed["Apple.10-K.html"].sections if s.name == "Item 7")
    # The segment tables ("Americas ... $ 167,045 ...") are gone; their prose stays.
    assert "167,045" not in mdna.text
    assert (
        "Americas net sales increased during 2024 compared to 2023 due primarily to higher net "
        "sales of Services." in mdna.text
    )


def test_full_text_submission_header_and_exhibits():
    submission = """<SEC-DOCUMENT>0000950123-10-078896.txt : 20100818
<SEC-HEADER>0000950123-10-078896.hdr.sgml : 20100818
ACCESSION NUMBER:		0000950123-10-078896
CONFORMED SUBMISSION TYPE:	8-K
CONFORMED PERIOD OF REPORT:	20100818
FILED AS OF DATE:		20100818
FILER:
	COMPANY DATA:
		COMPANY CONFORMED NAME:			SANDISK CORP
		CENTRAL INDEX KEY:			0001000180
</SEC-HEADER>
<DOCUMENT>
<TYPE>8-K
<TEXT>
<html><body><p>Item 8.01 Other Events.</p><p>SanDisk priced its notes offering.</p>
<p>SIGNATURES</p><p>Pursuant to the requirements of the Act, signed.</p></body></html>
</TEXT>
</DOCUMENT>
<DOCUMENT>
<TYPE>EX-99.1
<DESCRIPTION>PRESS RELEASE
<TEXT>
<html><body><p>SanDisk prices offering of convertible notes.</p>
<p>This release contains forward-looking statements that involve risks.</p></body></html>
</TEXT>
</DOCUMENT>
</SEC-DOCUMENT>"""
    filing = parse_filing(submission)
    assert (filing.form, filing.cik, filing.company) == ("8-K", "1000180", "SANDISK CORP")
    assert filing.accession == "0000950123-10-078896"
    assert str(filing.filed) == "2010-08-18"
    assert [(s.name, s.text) for s in filing.sections] == [
        ("Item 8.01", "SanDisk priced its notes offering."),
        ("EX-99.1", "SanDisk prices offering of convertible notes."),
    ]
