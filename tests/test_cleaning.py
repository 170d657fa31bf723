from features.cleaning import clean_text


def test_urls_entities_and_space_go():
    raw = "$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT"
    assert clean_text(raw) == "$BYND - JPMorgan reels in expectations on Beyond Meat"
    assert (
        clean_text("AT&amp;T  beats\n\testimates &#8212; shares up")
        == "AT&T beats estimates — shares up"
    )


def test_tags_and_control_characters_go_but_words_stay():
    assert clean_text("<b>Apple</b> rises\x00\x07 www.example.com/x 3%") == "Apple rises 3%"
    assert clean_text("Profit < forecast > loss") == "Profit < forecast > loss"


def test_cleaning_is_idempotent_on_real_headlines(data_dir):
    lines = (
        (data_dir / "labeled/twitter_financial_news_sentiment/sent_valid.csv")
        .read_text(encoding="utf-8")
        .splitlines()[1:300]
    )
    for line in lines:
        once = clean_text(line)
        assert clean_text(once) == once
        assert "http" not in once
