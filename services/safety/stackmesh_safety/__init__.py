"""The safety service: shields, run-shield and OpenAI-compatible moderations."""
