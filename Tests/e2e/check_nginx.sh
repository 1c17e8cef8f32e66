#!/usr/bin/env bash
# Checks nginx/phim.conf (the production site) with `nginx -t`, inside a throw-away main
# configuration whose paths point at this checkout and a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
tmp=$(mktemp -d)
mkdir -p "$tmp/logs" "$tmp/uploads"
sed -e "s#/srv/phim#$root#g" -e "s#/var/lib/phim#$tmp#g" -e "s#/var/log/nginx#$tmp/logs#g" \
    -e "s#unix:/run/phim/phim.sock#unix:$tmp/phim.sock#" nginx/phim.conf > "$tmp/phim-site.conf"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events {}
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path $tmp/body;
    fastcgi_temp_path $tmp/fastcgi;
    proxy_temp_path $tmp/proxy;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/phim-site.conf;
}
CONF
nginx -t -q -p "$tmp" -c "$tmp/nginx.conf"
echo "nginx/phim.conf: syntax ok"
rm -rf "$tmp"
