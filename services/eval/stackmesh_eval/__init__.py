"""The eval service: datasets, scoring, benchmarks and evaluation jobs."""
