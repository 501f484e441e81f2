"""Generated protobuf/gRPC modules for the subset of the etcd v3 API the harness uses.

Regenerate with ``build.sh``; the generated code pins its runtime: protobuf >= 7.35.1
(< 8) and grpcio >= 1.85.1.
"""
