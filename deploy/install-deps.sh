#!/usr/bin/env bash
# Installs what authgate needs to build, test and benchmark on Debian 12, with apt-get,
# only when something is missing. Usage: deploy/install-deps.sh [build|test|bench]
set -euo pipefail
what="${1:-test}"

pkgs=(cmake ninja-build g++ pkg-config
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
      libssl-dev libyaml-cpp-dev libspdlog-dev curl openssl
      libnghttp2-dev)
case "$what" in
  build) ;;
  test) pkgs+=(libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev chromium nodejs npm
             nghttp2-client) ;;
  bench) pkgs+=(libgtest-dev libbenchmark-dev wrk nginx-light haproxy
              nghttp2-client) ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from outside Debian's packages (a preinstalled Node): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
