"""Event ingest on `POST /metrics`: who may post, how often, what is valid, what it becomes."""
