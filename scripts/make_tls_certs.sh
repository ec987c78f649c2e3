#!/usr/bin/env bash
# Makes a private CA and a server certificate signed by it, for trying TLS
# (deploy/docker-compose.tls.yml) or for a closed network; in production use
# certificates from your own CA. Needs openssl.
#
#   scripts/make_tls_certs.sh [OUT_DIR] [DNS_NAME...]
#
# OUT_DIR (default deploy/secrets/tls) gets ca.crt, ca.key, server.crt,
# server.key. The certificate is valid for the names given (default:
# maskserve and localhost) and 127.0.0.1. Clients trust ca.crt:
#   maskctl --address=localhost:50051 --tls_ca=deploy/secrets/tls/ca.crt health
set -euo pipefail
out=${1:-"$(cd "$(dirname "$0")/.." && pwd)/deploy/secrets/tls"}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(maskserve localhost)
command -v openssl >/dev/null || { echo "$0: needs openssl (Debian package openssl)" >&2; exit 1; }
if [ -e "$out/server.crt" ]; then
  echo "$0: $out/server.crt exists; remove $out first to make new certificates" >&2
  exit 1
fi
mkdir -p "$out"
san="IP:127.0.0.1"
for n in "${names[@]}"; do san="$san,DNS:$n"; done
openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -nodes -subj "/CN=maskserve private CA" \
  -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey rsa:3072 -sha256 -nodes -subj "/CN=${names[0]}" \
  -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days 825 -sha256 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") \
  -out "$out/server.crt" 2>/dev/null
rm -f "$out/server.csr" "$out/ca.srl"
# The container's user (uid 10001) reads the key through a read-only mount.
chmod 0600 "$out/ca.key"
chmod 0644 "$out/ca.crt" "$out/server.crt" "$out/server.key"
echo "$0: wrote $out/{ca.crt,ca.key,server.crt,server.key} for ${names[*]} and 127.0.0.1" >&2
echo "$0: keep ca.key off the server; server.key is readable by all local users, tighten it" >&2
echo "$0: (e.g. chgrp 10001 + chmod 0640) where the host has other users" >&2
