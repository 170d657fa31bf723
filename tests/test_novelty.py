"""Novelty: exact repeats and near-duplicates on real headlines, and the Scorer's verdict cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from features.novelty import NoveltyIndex, fingerprint, normalise, shingles
from models import Classifier, Prediction
from streams.pipeline import Incoming, Scorer
from streams.sources import get_source

T0 = datetime(2020, 5, 22, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def benzinga(data_dir: Path) -> list[dict]:
    """The real Benzinga rows that have a time, oldest first."""
    return [r for r in get_source("news", "benzinga")(data_dir).records() if "published_at" in r]


def _when(record: dict) -> datetime:
    return datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))


def test_normalisation_ignores_case_punctuation_and_spacing():
    assert normalise("  Apple\u2019s Q3 EPS: $1.20 —  Beats! ") == "apple s q3 eps 1 20 beats"
    assert fingerprint("UPS Raises Guidance") == fingerprint("ups raises   guidance.")
    assert fingerprint("UPS Raises Guidance") != fingerprint("UPS Cuts Guidance")
    assert shingles("Tesla Recalls Cars") == {"tesla recalls", "recalls cars"}
    assert shingles("Tesla") == {"tesla"}
    assert shingles("") == set()


def test_benzinga_repeats_are_one_story(benzinga):
    """The sample repeats headlines (same story, another row or ticker); those repeats get
    novelty 0 and the first one's story id, every other headline is its own story or a
    near-duplicate of an earlier one."""
    index = NoveltyIndex(window=timedelta(hours=24))
    verdicts = {}
    for record in benzinga:
        verdict = index.observe(
            record["doc_id"], record["title"], _when(record), record.get("tickers", ())
        )
        verdicts[record["doc_id"]] = verdict
    exact = [v for v in verdicts.values() if v.exact]
    near = [v for v in verdicts.values() if 0 < v.novelty < 1]
    assert len(exact) > 300  # 376 in this sample
    assert 0 < len(near) < len(exact)
    for record in benzinga:
        verdict = verdicts[record["doc_id"]]
        if verdict.exact:
            assert verdict.novelty == 0.0
            assert verdict.story_id != record["doc_id"]
            earlier = verdicts[verdict.duplicate_of]
            assert normalise(benzinga_title(benzinga, verdict.duplicate_of)) == normalise(
                record["title"]
            )
            assert earlier.story_id == verdict.story_id
        elif verdict.duplicate_of is None:
            assert (verdict.novelty, verdict.story_id) == (1.0, record["doc_id"])
    # The same headline twice in the same minute (rows 1584 and 1585): one story.
    assert verdicts["benzinga:1585"].story_id == verdicts["benzinga:1584"].story_id


def benzinga_title(rows: list[dict], doc_id: str) -> str:
    return next(r["title"] for r in rows if r["doc_id"] == doc_id)


def test_near_duplicates_of_real_headlines():
    index = NoveltyIndex()
    original = "Bank of America Maintains Buy on The Advisory Board Company, Raises PT to $65.00"
    index.observe("a", original, T0, ["ABCO"])
    correction = index.observe("b", "CORRECTION: " + original, T0 + timedelta(hours=1), ["ABCO"])
    assert correction.story_id == "a" and correction.duplicate_of == "a"
    assert 0 < correction.novelty < 0.3
    # A template about another company is another story, even though the words mostly agree.
    other = index.observe("c", "Notable Call Options Activity on ABB", T0, ["ABB"])
    same_template = index.observe(
        "d", "Notable Call Options Activity on AmerisourceBergen", T0, ["ABC"]
    )
    assert other.novelty == 1.0 and same_template.novelty == 1.0
    assert same_template.story_id == "d"
    unrelated = index.observe("e", "Oil prices soar to highest level since 2008", T0, [])
    assert (unrelated.story_id, unrelated.novelty, unrelated.duplicate_of) == ("e", 1.0, None)


def test_window_and_size_bound_the_memory():
    index = NoveltyIndex(max_docs=3, window=timedelta(hours=24))
    title = "10 Biggest Price Target Changes For Friday"
    assert index.observe("w1", title, T0).novelty == 1.0
    assert index.observe("w2", title, T0 + timedelta(hours=2)).exact
    # The same column a week later is a new story, and the old entries have been evicted.
    later = index.observe("w3", title, T0 + timedelta(days=7))
    assert (later.story_id, later.novelty) == ("w3", 1.0)
    assert len(index) == 1
    for n in range(5):
        index.observe(f"x{n}", f"Headline number {n} about something else entirely", later_t(n))
    assert len(index) == 3


def later_t(n: int) -> datetime:
    return T0 + timedelta(days=7, minutes=n)


def test_a_redelivered_document_keeps_its_verdict():
    index = NoveltyIndex()
    index.observe("a", "UPS Raises Guidance", T0)
    repeat = index.observe("b", "UPS raises guidance", T0)
    assert index.observe("b", "UPS raises guidance", T0) == repeat
    assert index.observe("a", "UPS Raises Guidance", T0).novelty == 1.0
    index.forget("b")
    index.forget("a")
    assert index.observe("c", "UPS Raises Guidance", T0).novelty == 1.0


class CountingClassifier:
    """The real classifier, counting the texts it is asked to score (a seam, not a mock)."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.version = inner.version
        self.texts: list[str] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.texts += texts
        return self.inner.predict(texts)


def _incoming(records: list[dict]) -> list[Incoming]:
    now = datetime.now(UTC)
    return [Incoming(json.dumps(r).encode(), "news.raw", 0, n, now) for n, r in enumerate(records)]


@pytest.mark.model
def test_scorer_does_not_rescore_an_exact_repeat(served_model, benzinga, ticker_index):
    from streams.pipeline import novelty_index
    from streams.settings import NoveltySettings

    counting = CountingClassifier(Classifier(served_model, "cpu"))
    scorer = Scorer(counting, ticker_index, novelty=novelty_index(NoveltySettings()))
    first, second = (r for r in benzinga if r["doc_id"] in ("benzinga:1584", "benzinga:1585"))
    assert first["title"] == second["title"]
    unrelated = benzinga[0]

    result = scorer.score(_incoming([first, unrelated]))
    assert len(counting.texts) == 2
    original = {r.doc_id: r for r in result.scored}[first["doc_id"]]
    assert (original.story_id, original.novelty, original.duplicate_of) == (
        first["doc_id"], 1.0, None,
    )  # fmt: skip

    result = scorer.score(_incoming([second]))
    assert len(counting.texts) == 2, "an exact repeat must not reach the model"
    (repeat,) = result.scored
    assert repeat.doc_id == second["doc_id"]
    assert (repeat.story_id, repeat.novelty, repeat.duplicate_of) == (
        first["doc_id"], 0.0, first["doc_id"],
    )  # fmt: skip
    assert (repeat.label, repeat.score) == (original.label, original.score)

    # Repeats of a new text inside one batch are scored once, and after that not at all.
    title = "Apple Recalls Every iPhone Sold Since 2019"
    copies = [dict(first, doc_id=f"copy:{n}", title=t) for n, t in enumerate([title] * 3)]
    result = scorer.score(_incoming(copies))
    assert counting.texts[2:] == [title]
    assert [r.novelty for r in result.scored] == [1.0, 0.0, 0.0]
    assert {r.story_id for r in result.scored} == {"copy:0"}
    scorer.score(_incoming([dict(first, doc_id="copy:3", title=title.upper())]))
    assert len(counting.texts) == 3


def test_novelty_and_poll_settings_are_checked():
    from streams.errors import ConfigError
    from streams.settings import load_settings

    settings = load_settings({"FINSENT_NOVELTY_WINDOW_HOURS": "6", "FINSENT_SEC_RATE": "5"})
    assert settings.novelty.window_hours == 6 and settings.poll.sec_max_rate == 5
    for bad in ({"FINSENT_NOVELTY_THRESHOLD": "1.5"}, {"FINSENT_SEC_RATE": "20"}):
        with pytest.raises(ConfigError):
            load_settings(bad)


class PoisonedIndex(NoveltyIndex):
    """The real index, raising on one doc id: a bug that one value's content triggers."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned

    def observe(self, doc_id, text, published_at, tickers=()):
        if doc_id == self.poisoned:
            raise RuntimeError("index broke")
        return super().observe(doc_id, text, published_at, tickers)


@pytest.mark.model
def test_a_value_that_breaks_scoring_is_rejected_alone(served_model, benzinga, ticker_index):
    records = benzinga[:3]
    poisoned = PoisonedIndex(records[1]["doc_id"])
    scorer = Scorer(Classifier(served_model, "cpu"), ticker_index, novelty=poisoned)
    batch = _incoming(records)

    result = scorer.score(batch)

    assert [r.doc_id for r in result.scored] == [records[0]["doc_id"], records[2]["doc_id"]]
    assert result.inputs == [batch[0], batch[2]]
    (rejected,) = result.rejected
    assert rejected.incoming is batch[1]
    assert rejected.error.stage == "classify"
    assert rejected.error.reason == "scoring failed: RuntimeError('index broke')"
