"""Pulse's sidecar: collects metrics in a pod, buffers them without loss, pushes them upstream."""
