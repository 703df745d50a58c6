"""Observability: metrics, log lines and request telemetry; imports no other layer, so every layer may use it."""
