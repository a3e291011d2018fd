#!/usr/bin/env bash
# Installs what `make test` and `make demo` need from the operating system's
# packages when it is missing: clickhouse-server, prometheus-alertmanager
# (the alert actions' test runs a real Alertmanager), chromium (the
# Console's browser test drives it headless) and zookeeper (the ClickHouse
# cluster test, internal/clustertest, runs one ZooKeeper for 2x2 servers;
# it brings a Java runtime) (Debian/Ubuntu packages).
# Go itself must already be installed.
set -euo pipefail

have_clickhouse() {
  command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse-server ] || command -v clickhouse >/dev/null 2>&1
}

have_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

have_alertmanager() {
  command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ]
}

# The Debian package's jar, run with java by internal/testenv (no service).
have_zookeeper() {
  [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

missing=()
have_clickhouse || missing+=(clickhouse-server clickhouse-client)
have_alertmanager || missing+=(prometheus-alertmanager)
have_chromium || missing+=(chromium)
have_zookeeper || missing+=(zookeeper)
# promtool checks deploy/prometheus/sightline_rules.yml in the tests.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# protoc checks that the generated protobuf code is current (schemas).
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${missing[*]}; install ClickHouse with your package manager, or point sightline at a server with --clickhouse-addr" >&2
    exit 1
  fi
  echo "installing from the OS packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
have_clickhouse || { echo "clickhouse-server is still not installed" >&2; exit 1; }
have_alertmanager || { echo "prometheus-alertmanager is still not installed" >&2; exit 1; }
have_chromium || { echo "chromium is still not installed" >&2; exit 1; }
have_zookeeper || { echo "zookeeper (with a Java runtime) is still not installed" >&2; exit 1; }
