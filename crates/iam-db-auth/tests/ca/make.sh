#!/usr/bin/env bash
# Makes the certificates the unit tests of src/ca/verify.rs check (run from this directory;
# the outputs are committed, the keys are not kept). Valid for 100 years from the day they were
# made, except expired.pem (1 day); the tests verify at a fixed time (2027-01-01).
#   root.pem          a CA (ECDSA P-384, like the RDS ECC384 roots)
#   other-root.pem    an unrelated CA
#   server-chain.pem  a server certificate (EC P-256; mydb.c9akciq32.us-east-1.rds.amazonaws.com,
#                     localhost, 127.0.0.1, ::1) then the intermediate (RSA 2048) root.pem signed
#   expired.pem       the same chain with a server certificate valid for one day only
#   self-signed.pem   a self-signed certificate with the same names (what an impostor shows)
set -euo pipefail
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
sans="DNS:mydb.c9akciq32.us-east-1.rds.amazonaws.com,DNS:localhost,IP:127.0.0.1,IP:::1"
printf "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" >"$tmp/int.ext"
printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\nauthorityKeyIdentifier=keyid\n" "$sans" >"$tmp/leaf.ext"
root() { # NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 36500 -sha384 \
    -keyout "$tmp/$1.key" -out "$1.pem" -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
root root "iam-db-auth test root CA"
root other-root "iam-db-auth unrelated test CA"
openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/int.key" -out "$tmp/int.csr" -subj "/CN=iam-db-auth test intermediate CA" 2>/dev/null
openssl x509 -req -in "$tmp/int.csr" -CA root.pem -CAkey "$tmp/root.key" -CAcreateserial -days 36500 -sha384 \
  -extfile "$tmp/int.ext" -out "$tmp/int.pem" 2>/dev/null
leaf() { # OUT DAYS
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" \
    -subj "/CN=mydb.c9akciq32.us-east-1.rds.amazonaws.com" 2>/dev/null
  openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/int.pem" -CAkey "$tmp/int.key" -CAcreateserial -days "$2" -sha256 \
    -extfile "$tmp/leaf.ext" -out "$tmp/leaf.pem" 2>/dev/null
  cat "$tmp/leaf.pem" "$tmp/int.pem" >"$1"
}
leaf server-chain.pem 36500
leaf expired.pem 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 -keyout "$tmp/ss.key" \
  -out self-signed.pem -subj "/CN=mydb.c9akciq32.us-east-1.rds.amazonaws.com" -addext "subjectAltName=$sans" 2>/dev/null
rm -f ./*.srl
