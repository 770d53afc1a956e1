#!/bin/sh
# Debian packages the tests need, installed when missing: dovecot-imapd for the
# IMAP intake tests (a real server), chromium for the browser tests.
# Usage: scripts/system-deps.sh [dovecot] [chromium]
set -eu
missing=""
for want in "$@"; do
    case "$want" in
        dovecot) [ -x /usr/sbin/dovecot ] || missing="$missing dovecot-imapd" ;;
        chromium) command -v chromium >/dev/null 2>&1 || missing="$missing chromium" ;;
        *) echo "unknown: $want" >&2; exit 2 ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The tests need these Debian packages:$missing (apt-get install -y$missing)" >&2
    exit 1
fi
echo "== installing$missing"
apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
