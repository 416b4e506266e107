#!/usr/bin/env bash
# Installs what gridsql needs to build and test on a fresh Debian machine:
# system packages (protoc, the NetCDF C library) and the Python venv that
# the tests use to compute reference answers with xarray. Idempotent and
# quiet when everything is there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
[ -f /usr/include/netcdf.h ] || need_apt+=(libnetcdf-dev libhdf5-dev)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
# pgjdbc, the JDBC driver of DBeaver/Metabase/Tableau, for tests/servers.rs
[ -f /usr/share/java/postgresql.jar ] || need_apt+=(libpostgresql-jdbc-java)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
if [ "${1:-}" = "--with-venv" ]; then
  bash "$here/scripts/venv.sh" >/dev/null
fi
