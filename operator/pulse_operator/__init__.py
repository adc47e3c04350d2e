"""Pulse's Kubernetes operator: MetricsCollector and SLO resources into their children."""

__version__ = "0.1.0"
