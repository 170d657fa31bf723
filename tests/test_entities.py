"""Company-name linking on real FinEntity paragraphs and the SEC/S&P lists."""

from __future__ import annotations

import pytest

from features.entities import EntityLinker, mention_contexts, normalize_name
from streams.entity_eval import evaluate_linking, evaluate_sentiment, load_finentity


@pytest.fixture(scope="module")
def linker(data_dir, ticker_index) -> EntityLinker:
    return EntityLinker.from_data_dir(data_dir, ticker_index)


def _linked(linker: EntityLinker, text: str) -> list[tuple[str, str]]:
    return [(m.surface, m.ticker) for m in linker.mentions(text)]


def test_names_are_normalised():
    assert normalize_name("JPMORGAN CHASE & CO") == ["jpmorgan", "chase"]
    assert normalize_name("The Goldman Sachs Group, Inc.") == ["goldman", "sachs"]
    assert normalize_name("J.P. Morgan") == ["jp", "morgan"]
    assert normalize_name("Johnson & Johnson") == ["johnson", "and", "johnson"]


def test_names_as_written_in_news(linker):
    assert _linked(linker, "Johnson & Johnson <JNJ.N> shares gained") == [
        ("Johnson & Johnson", "JNJ")
    ]
    assert _linked(linker, "J.P. Morgan raised its view on Apple Inc's stock") == [
        ("J.P. Morgan", "JPM"), ("Apple", "AAPL"),
    ]  # fmt: skip
    assert _linked(linker, "Goldman Sachs Group Inc and Morgan Stanley fell") == [
        ("Goldman Sachs", "GS"), ("Morgan Stanley", "MS"),
    ]  # fmt: skip


def test_common_word_names_need_evidence(linker):
    assert _linked(linker, "The bank missed its target as visa rules tightened.") == []
    assert _linked(linker, "Stocks That Hit 52-Week Highs On Target And Visa") == []
    assert _linked(linker, "Target Corp cut guidance") == [("Target", "TGT")]
    assert _linked(linker, "Shares of Visa rose.") == [("Visa", "V")]
    assert _linked(linker, "said Jesse Cohen, an analyst, on Monday") == []  # people, days


def test_each_company_reads_its_own_clause(linker):
    text = "Walmart beat estimates while Target cut its guidance."
    mentions = linker.mentions(text)
    assert [m.ticker for m in mentions] == ["WMT", "TGT"]
    assert mention_contexts(text, mentions) == [
        "Walmart beat estimates",
        "Target cut its guidance.",
    ]


def test_relevance_prefers_the_headline_company(linker):
    links = linker.link("Apple shares slip", "Apple and Microsoft traded lower; Apple fell most.")
    assert [link.ticker for link in links] == ["AAPL", "MSFT"]
    assert links[0].relevance > links[1].relevance


def test_linking_precision_and_recall_on_finentity(linker, data_dir):
    report = evaluate_linking(linker, load_finentity(data_dir))
    assert report.paragraphs == 979 and report.gold_known > 900
    assert report.precision >= 0.90
    assert report.recall >= 0.80


@pytest.mark.model
def test_entity_level_evaluation_runs_end_to_end(data_dir, served_model):
    from models import load_classifier
    from streams.settings import load_settings

    classifier = load_classifier(load_settings().model, data_dir)
    report = evaluate_sentiment(classifier, load_finentity(data_dir, limit=120))
    assert report.entities > 120
    assert 0.5 < report.entity_level_accuracy <= 1 and 0.5 < report.document_level_accuracy <= 1
