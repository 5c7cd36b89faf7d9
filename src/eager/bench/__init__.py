"""The replay benchmark: workloads of recorded model answers, the grid harness, summaries."""
