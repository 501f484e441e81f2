"""What several test packages share: history builders, simulators, real-etcd helpers,
and where the shared reference data is. Plain modules, not conftest files, so a test
imports what it uses by name."""
