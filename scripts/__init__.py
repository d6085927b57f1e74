"""Helper scripts (benchmarks)."""
