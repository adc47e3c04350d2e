"""Pydantic models of Pulse's custom resources: the source of their validation and CRDs."""
