"""Synthetic data generation: seed dialogs → sampled answers → scores → filter → a dataset."""
