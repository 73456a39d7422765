#!/usr/bin/env bash
# Test certificates (never for production): make_certs.sh DIR [CLIENT_NAME...]
#   DIR/ca.pem, ca.key             the Kring test CA
#   DIR/server.pem, server.key     the listener, for localhost and 127.0.0.1
#   DIR/<name>.pem, <name>.key     a client certificate with CN=<name> from the CA
#   DIR/other-ca.pem               another CA, and DIR/other-<name>.pem/.key: a
#                                  client certificate with the same CN from it
# EC P-256 keys, valid for one day.
set -euo pipefail
dir="$1"
shift
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }
ca() {  # ca NAME
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$1.key" -out "$1.pem"
}
leaf() {  # leaf CA NAME FILE EXTENSIONS
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$3.key" -out "$3.csr"
  printf '%s\n' "$4" > "$3.ext"
  ossl x509 -req -in "$3.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days 1 -extfile "$3.ext" -out "$3.pem"
  rm -f "$3.csr" "$3.ext"
}
ca ca
ca other-ca
leaf ca localhost server "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
for name in "$@"; do
  leaf ca "$name" "$name" "extendedKeyUsage=clientAuth"
  leaf other-ca "$name" "other-$name" "extendedKeyUsage=clientAuth"
done
chmod 600 ./*.key
