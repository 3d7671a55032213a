"""Reports a person reads: the self-contained HTML verdict report."""
