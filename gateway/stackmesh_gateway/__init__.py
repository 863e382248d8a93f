"""The gateway: Envoy transcoding REST/JSON to the services' gRPC, configured from the contracts."""
