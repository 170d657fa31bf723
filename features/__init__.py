"""Pure text features: cleaning, ticker linking, chunking. No I/O beyond reading reference files."""
