"""Where samples come from: targets in the pod, the sidecar's own collectors, and checks."""
