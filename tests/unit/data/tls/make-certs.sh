#!/bin/sh
# Makes the test certificates of tests/unit/test_tls_verify.c (and, into a temporary
# directory, those of tests/integration/test_xmpp_tls.py) with the openssl command line
# (Debian package openssl): two throwaway CAs and leaf certificates for DOMAIN, each with one
# fault. EC P-256 keys; 100 years of validity, except expired.pem (2020) and
# not-yet-valid.pem (2090).
#
#   tests/unit/data/tls/make-certs.sh [DIR [DOMAIN]]     (default: this directory, chat.test)
#
# ca.pem           the CA the tests trust ("replmon test CA")
# other-ca.pem     a CA nobody trusts
# inter.pem        an intermediate CA under ca.pem that expires before its leaf
# good.pem         dNSName DOMAIN, by ca.pem
# wildcard.pem     dNSName *.DOMAIN, by ca.pem
# xmppaddr.pem     only an id-on-xmppAddr DOMAIN (no dNSName), by ca.pem
# srv-client.pem   only an SRV-ID _xmpp-client.DOMAIN, by ca.pem
# srv-server.pem   only an SRV-ID _xmpp-server.DOMAIN, by ca.pem
# wrong-name.pem   dNSName other.test, by ca.pem
# expired.pem      dNSName DOMAIN, by ca.pem, valid in January 2020 only
# not-yet-valid.pem  dNSName DOMAIN, by ca.pem, valid from 2090
# other-ca-leaf.pem  dNSName DOMAIN, by other-ca.pem
# self-signed.pem  dNSName DOMAIN, signed by its own key
# chained.pem      dNSName DOMAIN, by inter.pem; chained-full.pem is it followed by inter.pem
# Each X.pem has its key in X.key.
set -eu
dir=${1:-$(dirname "$0")}
domain=${2:-chat.test}
days=36500
mkdir -p "$dir"
cd "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }

ca() { # name subject [issuer] [days]
  key "$1"
  if [ -z "${3:-}" ]; then
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days "$days" -subj "/CN=$2" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  else
    openssl req -new -key "$1.key" -out "$work/$1.csr" -subj "/CN=$2"
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
      >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
      -CAserial "$work/serial" -out "$1.pem" -days "$4" -extfile "$work/$1.ext" 2>/dev/null
  fi
}

# leaf name issuer subjectAltName [startdate enddate]
leaf() {
  key "$1"
  openssl req -new -key "$1.key" -out "$work/$1.csr" -subj "/CN=replmon test $1"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$work/$1.ext"
  printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$3" >>"$work/$1.ext"
  if [ -z "${4:-}" ]; then
    openssl x509 -req -in "$work/$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
      -CAserial "$work/serial" -out "$1.pem" -days "$days" -extfile "$work/$1.ext" 2>/dev/null
    return
  fi
  # openssl x509 cannot set dates in the past or future: a minimal `openssl ca` can.
  mkdir -p "$work/ca"
  : >"$work/ca/index.txt"
  cat >"$work/ca/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
CNF
  openssl rand -hex 8 >"$work/ca/serial"
  openssl ca -batch -config "$work/ca/ca.cnf" -cert "$2.pem" -keyfile "$2.key" \
    -in "$work/$1.csr" -out "$work/$1.out" -startdate "$4" -enddate "$5" \
    -extfile "$work/$1.ext" -notext 2>/dev/null
  openssl x509 -in "$work/$1.out" -out "$1.pem"
}

ca ca "replmon test CA"
ca other-ca "replmon other test CA"
ca inter "replmon test intermediate CA" ca $((days - 3650))
leaf good ca "DNS:$domain"
leaf wildcard ca "DNS:*.$domain"
leaf xmppaddr ca "otherName:1.3.6.1.5.5.7.8.5;UTF8:$domain"
leaf srv-client ca "otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-client.$domain"
leaf srv-server ca "otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.$domain"
leaf wrong-name ca "DNS:other.test"
leaf expired ca "DNS:$domain" 20200101000000Z 20200201000000Z
leaf not-yet-valid ca "DNS:$domain" 20900101000000Z 20950101000000Z
leaf other-ca-leaf other-ca "DNS:$domain"
leaf chained inter "DNS:$domain"
cat chained.pem inter.pem >chained-full.pem
key self-signed
openssl req -x509 -new -key self-signed.key -out self-signed.pem -days "$days" \
  -subj "/CN=replmon test self-signed" -addext "subjectAltName=DNS:$domain"
rm -f ./*.srl
chmod 600 ./*.key
