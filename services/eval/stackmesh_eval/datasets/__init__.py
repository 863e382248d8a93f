"""Datasets: where rows come from, how files are read, what each purpose requires."""
