#!/bin/sh
# Regenerates the Python modules from the .proto files. Run from anywhere; needs
# grpcio-tools. The proto path is the repository root so that generated imports read
# "from harness.client.proto import kv_pb2".
set -eu
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
python -m grpc_tools.protoc -I . \
    --python_out=. --pyi_out=. --grpc_python_out=. \
    harness/client/proto/kv.proto harness/client/proto/etcd.proto
# kv.proto has no services: its empty _grpc module is noise.
rm -f harness/client/proto/kv_pb2_grpc.py
# pyproject excludes only the generated .py from ruff; bring the stubs to the project's
# lint and format rules instead of carrying generated style through every check.
if command -v ruff >/dev/null 2>&1; then
    ruff check --fix --quiet harness/client/proto/*.pyi
    ruff format --quiet harness/client/proto/*.pyi
fi
