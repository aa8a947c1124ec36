"""Operations: readiness, Prometheus-style metrics, structured JSON logs without personal data."""
