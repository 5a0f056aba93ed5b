#!/bin/sh
# Fails when a file in checker/ includes a header of exporter/, printing FILE:LINE of each
# such #include. checker/ (probes and pure analysis) sits below exporter/ and never sees it
# (ARCHITECTURE.md); only the two programs' main functions see both. Since the build passes
# -Iexporter, both #include "NAME.h" and #include <NAME.h> would find exporter/NAME.h.
# Usage: tests/lint-includes.sh   (from the top of the tree; make lint runs it)
set -eu

bad=$(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' checker/*.c checker/*.h |
  while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    name=$(printf '%s\n' "$rest" | sed 's/^[^"<]*["<]\([^">]*\)[">].*$/\1/')
    if [ -e "exporter/$name" ]; then
      printf '%s:%s: includes exporter/%s; checker/ must not include exporter/ headers\n' \
        "$file" "$line" "$name"
    fi
  done)

if [ -n "$bad" ]; then
  printf '%s\n' "$bad" >&2
  exit 1
fi
