#!/usr/bin/env bash
# Makes a new API key for a tenant (or, with --admin, an admin key for the
# maskserve.v1.Admin service), adds "<name> <sha256 of key>" to the key file
# and prints the key once on stdout; only its hash is stored.
#
#   scripts/make_api_key.sh acme                  # -> deploy/secrets/api_keys
#   scripts/make_api_key.sh --admin ops           # -> deploy/secrets/admin_keys
#   scripts/make_api_key.sh acme /etc/maskserve/api_keys
#
# The server reads the file at start-up (--api_keys_file / --admin_keys_file);
# restart it to pick up a new key.
set -euo pipefail
usage() { echo "usage: $0 [--admin] NAME [KEY_FILE]" >&2; exit 2; }
kind=api_keys
if [ "${1:-}" = --admin ]; then kind=admin_keys; shift; fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
name=$1
file=${2:-"$(cd "$(dirname "$0")/.." && pwd)/deploy/secrets/$kind"}
# Tenant ids (storage/ids.h): 1..128 of [A-Za-z0-9._:@-], not starting with '.'.
[[ $name =~ ^[A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,127}$ ]] || {
  echo "$0: bad name '$name': 1..128 characters of [A-Za-z0-9._:@-], not starting with '.'" >&2
  exit 2
}
if [ -f "$file" ] && awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' "$file"; then
  echo "$0: note: $file already has a key for '$name'; adding another" >&2
fi
key="ms_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
hash=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
mkdir -p "$(dirname "$file")"
[ -f "$file" ] || printf '# %s: <name> <sha256 of key> (scripts/make_api_key.sh)\n' "$kind" > "$file"
printf '%s %s\n' "$name" "$hash" >> "$file"
chmod 0644 "$file"
echo "$0: added '$name' to $file; the key (shown once):" >&2
echo "$key"
