#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (root) lacks for etcd-harness and its tests:
# etcd 3.4.23 and the tools faults use from Debian, the Docker engine (started when not
# running), Chromium for report tests, and the package itself with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in etcd-server etcd-client docker.io iptables nftables iproute2 util-linux chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v -e '^WARNING: Running pip as' -e 'is ignored: it is neither' || true

if ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null 2>&1; then
    (nohup dockerd >/tmp/etcd-harness-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || echo "setup: dockerd did not start (see /tmp/etcd-harness-dockerd.log); Docker tests will be skipped" >&2
  fi
fi
