"""Pulse's Kubernetes operator: MetricsCollector and SLO resources into their children."""
