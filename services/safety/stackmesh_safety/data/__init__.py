"""Data files shipped with the service: the prompt-guard corpus and its held-out set."""
