"""Where samples go: Prometheus remote_write, a Pushgateway, an OTLP/HTTP endpoint."""
