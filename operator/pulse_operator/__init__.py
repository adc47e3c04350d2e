"""Pulse's Kubernetes operator: MetricsCollector and SLO resources into running, alerting children."""
