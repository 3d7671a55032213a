"""Market data: the bundled S&P 500 panel, regime labels and the returns-file reader."""
