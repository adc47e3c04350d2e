"""SLOs to Prometheus rules, pure: windows, PromQL checks and rendering, no Kubernetes client."""
