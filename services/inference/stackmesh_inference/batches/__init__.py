"""OpenAI batches: a JSONL file of requests run as a durable job, results written back to Files."""
