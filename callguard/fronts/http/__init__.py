"""The HTTP port: health, readiness, Prometheus metrics, JSON check and opt-out."""
