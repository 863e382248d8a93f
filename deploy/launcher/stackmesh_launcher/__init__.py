"""The local launcher: starts a distribution's Postgres, NATS, services and gateway as child processes."""
