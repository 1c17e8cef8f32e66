#!/usr/bin/env bash
# Installs what Phim needs on Debian, only what is missing: the build's C libraries and nginx
# (always), and with --test the browser, its driver, wrk, the Python packages the suites use,
# openssl and systemd (check_nginx.sh: a self-signed certificate, `systemd-analyze security --offline`).
set -euo pipefail
packages=(nginx-light libfcgi-dev libcurl4-openssl-dev libsqlite3-dev libsodium-dev libqrencode-dev ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium chromium-driver fonts-noto-core wrk python3-pip openssl systemd zbar-tools librsvg2-bin)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if (( ${#missing[@]} )); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [[ "${1:-}" == "--test" ]]; then
  python3 -c "import selenium, standardwebhooks" 2>/dev/null || python3 -m pip install -q selenium standardwebhooks
fi
