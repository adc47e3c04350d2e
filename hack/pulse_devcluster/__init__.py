"""A real, local Kubernetes control plane for Pulse's tests, demo and benchmarks.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK (simulated
nodes, so pods are scheduled and reported Running and Ready) are started on free
loopback ports from the binaries `make tools` builds into `.pulse/bin/`. Nothing here
is shipped: it is development infrastructure, importable with `PYTHONPATH=hack`.
"""
