"""The self-test: seeded bugs injected between the clients and a real etcd, one class at
a time, each of which the intended check must catch (`etcd-harness selftest`)."""
