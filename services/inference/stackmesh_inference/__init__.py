"""The inference service: models, chat completions, completions and embeddings."""
