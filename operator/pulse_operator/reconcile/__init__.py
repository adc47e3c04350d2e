"""Reconciliation: fetch what is needed, render, apply, and report the status.

kopf handlers (handlers.py) call into this package and only add what is kopf's: events,
retries and the choice of when to run. Everything here is synchronous, runs in kopf's
thread pool, and reaches the cluster only through the `Kube` interface (protocol.py),
so it is unit-tested against an in-memory fake and integration-tested against the API
server.
"""
