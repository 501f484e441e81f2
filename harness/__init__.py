"""etcd-harness: consistency testing for etcd."""

import os

# gRPC logs an INFO line whenever a subprocess is forked while its threads run (we fork
# etcd members during traffic); only errors are worth a user's attention.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"
