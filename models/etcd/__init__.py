"""The etcd model and its checks (pure: no I/O); see :mod:`models.etcd.check`."""

from models.etcd.check import check_history, check_operations
from models.etcd.model import EtcdModel

__all__ = ["EtcdModel", "check_history", "check_operations"]
