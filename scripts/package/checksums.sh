#!/usr/bin/env bash
# artifact: dist/SHA256SUMS: the SHA-256 of every release file in dist/ (tarballs, .deb, .rpm), for `sha256sum -c`
#
#   scripts/package.sh checksums
#
# Sums the files at the top of dist/ (not dist/native/, the language packages' input); run it
# after the artifacts (`scripts/package.sh all` does). Check a download with
# `sha256sum -c --ignore-missing SHA256SUMS`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
(($# == 0)) || [[ "$*" == "--target all" ]] || die "usage: scripts/package.sh checksums"
cd "$DIST" 2>/dev/null || die "no dist/: build the artifacts first"
files=()
for f in *.tar.gz *.deb *.rpm *.whl *.tgz; do [[ -f "$f" ]] && files+=("$f"); done
((${#files[@]})) || die "no release files in dist/"
sha256sum -- "${files[@]}" >SHA256SUMS.tmp
mv SHA256SUMS.tmp SHA256SUMS
say "$DIST/SHA256SUMS (${#files[@]} files)"
