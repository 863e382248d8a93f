"""Traces (OpenTelemetry) and metrics (Prometheus) of a service or worker process."""
