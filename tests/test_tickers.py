from features.tickers import TickerIndex, is_ticker_like, link_tickers, normalize_ticker


def test_sec_list_loads_with_primary_ticker_per_cik(ticker_index: TickerIndex):
    assert len(ticker_index) > 5000
    assert ticker_index.ticker_for_cik("320193") == "AAPL"
    assert ticker_index.ticker_for_cik("0000320193") == "AAPL"
    assert ticker_index.ticker_for_cik("1") is None
    assert ticker_index.company("aapl").name == "Apple Inc."


def test_cashtags_link_only_known_symbols(ticker_index):
    text = "$CCL $RCL - Nomura points to bookings weakness; $5 stock, $ZZZZZ unknown"
    assert link_tickers(text, ticker_index) == ["CCL", "RCL"]


def test_reuters_codes_and_given_fields(ticker_index):
    text = "Johnson & Johnson <JNJ.N> shares gained 0.20% after posting results"
    assert link_tickers(text, ticker_index, given=["pfe"]) == ["PFE", "JNJ"]


def test_filing_cik_and_dedup_in_order_of_evidence(ticker_index):
    assert link_tickers("$AAPL again $AAPL", ticker_index, given=["AAPL"], cik="320193") == ["AAPL"]


def test_delisted_given_ticker_is_kept_but_garbage_is_not(ticker_index):
    assert link_tickers("", ticker_index, given=["AAN", "2011-07-20", ""]) == ["AAN"]


def test_normalisation():
    assert normalize_ticker(" brk.b ") == "BRK-B"
    assert is_ticker_like("BRK.B") and is_ticker_like("AAPL") and not is_ticker_like("$AAPL")
