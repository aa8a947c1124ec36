#!/usr/bin/env bash
# A self-signed certificate for a test site (never for production): self-signed.sh DIR [HOSTNAME]
set -euo pipefail
dir="${1:?usage: self-signed.sh DIR [HOSTNAME]}"
host="${2:-localhost}"
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,IP:127.0.0.1" \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
echo "$dir/fullchain.pem $dir/privkey.pem"
