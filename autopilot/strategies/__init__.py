"""Candidate strategies: the example rules built on the bundled market data."""
