#!/usr/bin/env bash
# Checks the production files: nginx/phim.conf (the site, its TLS server included) with
# `nginx -t` inside a throw-away main configuration whose paths point at this checkout, a
# temporary directory and a self-signed certificate; and nginx/phim.service's sandbox with
# `systemd-analyze security --offline=true` (no running systemd needed), at most 2.5.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/logs" "$tmp/uploads" "$tmp/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=phim.example.com" \
    -keyout "$tmp/tls/privkey.pem" -out "$tmp/tls/fullchain.pem" >/dev/null 2>&1
sed -e "s#/srv/phim#$root#g" -e "s#/var/lib/phim#$tmp#g" -e "s#/var/log/nginx#$tmp/logs#g" \
    -e "s#/etc/letsencrypt/live/phim.example.com#$tmp/tls#g" \
    -e "s#unix:/run/phim/phim.sock#unix:$tmp/phim.sock#" nginx/phim.conf > "$tmp/phim-site.conf"
grep -q "ssl_certificate $tmp/tls/fullchain.pem" "$tmp/phim-site.conf" || { echo "nginx/phim.conf: no TLS server with certbot's paths"; exit 1; }
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events {}
http {
    include /etc/nginx/mime.types;
    client_body_temp_path $tmp/body;
    fastcgi_temp_path $tmp/fastcgi;
    proxy_temp_path $tmp/proxy;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/phim-site.conf;
}
CONF
nginx -t -q -p "$tmp" -c "$tmp/nginx.conf"
echo "nginx/phim.conf: syntax ok (HTTP redirect and TLS servers)"

score=$(systemd-analyze security --offline=true nginx/phim.service 2>/dev/null \
    | sed -n 's/.*Overall exposure level for phim.service: \([0-9.]*\).*/\1/p')
[[ -n "$score" ]] || { echo "nginx/phim.service: systemd-analyze gave no score"; exit 1; }
if awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
  echo "nginx/phim.service: systemd-analyze security $score (at most 2.5)"
else
  echo "nginx/phim.service: systemd-analyze security $score, over 2.5"; exit 1
fi
