#!/usr/bin/env bash
# Builds and installs iam-db-auth under a prefix, or removes exactly what an install put there.
#
#   scripts/install.sh --prefix DIR [--destdir STAGE]
#   scripts/install.sh --uninstall --prefix DIR [--destdir STAGE]
#
# The tree it installs (release artifacts package this tree):
#   DIR/lib/libiam_db_auth.so.X.Y.Z         the C library (also the MariaDB client plugin), with the
#   DIR/lib/libiam_db_auth.so.X -> ...        links for its SONAME
#   DIR/lib/libiam_db_auth.so -> ...          and for linking (-liam_db_auth)
#   DIR/lib/libiam_db_auth.a                 the static library
#   DIR/lib/pkgconfig/iam-db-auth.pc         cc $(pkg-config --cflags --libs iam-db-auth) (--static too)
#   DIR/include/iam_db_auth.h
#   DIR/bin/iam-db-auth                      the CLI
#   DIR/share/man/man1/iam-db-auth*.1        its man pages
#   DIR/share/{bash-completion,zsh,fish}/... its shell completions
#   DIR/share/iam-db-auth/rds-global-bundle.pem   the RDS CA bundle (certs/)
#   DIR/share/iam-db-auth/install-manifest   every file, link and new directory installed
#
# The library, its links, the static library, the .pc file and the header come from cargo-c
# (`cargo cinstall`; install it with `cargo install cargo-c@0.10.24 --locked`), configured in
# crates/iam-db-auth/Cargo.toml; the CLI from cargo, in the same build tree (target/capi); the
# man pages and completions from the CLI itself (`iam-db-auth generate-man DIR`,
# `completions SHELL`). Both the library and the CLI are built to look for the CA bundle where
# this install puts it (IAM_DB_AUTH_CA_INSTALLED, read at build time by src/ca/lookup.rs).
#
# Everything is staged in a scratch directory first, so a failed build installs nothing.
# Installing over an earlier install removes the earlier one's files first (its manifest).
# --uninstall removes the files and links the manifest lists, unless they were changed since
# (those are kept and named), then the directories the install created, if empty.
# --destdir STAGE puts the tree under STAGE/DIR, for packagers; the .pc file still says DIR.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

usage() { die "usage: scripts/install.sh [--uninstall] --prefix DIR [--destdir STAGE]"; }
prefix="" destdir="" uninstall=0
while (($#)); do
  case "$1" in
    --prefix) (($# >= 2)) || usage; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --destdir) (($# >= 2)) || usage; destdir="$2"; shift 2 ;;
    --destdir=*) destdir="${1#--destdir=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done
[[ -n "$prefix" ]] || usage
prefix="$(realpath -m "$prefix")"
[[ -z "$destdir" ]] || destdir="$(realpath -m "$destdir")"
root="$destdir$prefix"
MANIFEST_REL="share/iam-db-auth/install-manifest"

# Removes what the manifest at $1 lists (paths in it are under the prefix; $destdir is added).
remove_installed() {
  local manifest="$1" kind check path kept=0 dirs=()
  while IFS=$'\t' read -r kind check path; do
    local target="$destdir$path"
    case "$kind" in
      file)
        [[ -e "$target" || -L "$target" ]] || continue
        if [[ -f "$target" && ! -L "$target" && "$(sha256sum <"$target" | cut -d' ' -f1)" == "$check" ]]; then
          rm -f "$target"
        else
          echo "kept (changed since it was installed): $target" >&2; kept=$((kept + 1))
        fi ;;
      link)
        [[ -e "$target" || -L "$target" ]] || continue
        if [[ -L "$target" && "$(readlink "$target")" == "$check" ]]; then
          rm -f "$target"
        else
          echo "kept (changed since it was installed): $target" >&2; kept=$((kept + 1))
        fi ;;
      dir) dirs+=("$target") ;;
      *) die "$manifest: unknown entry '$kind'" ;;
    esac
  done <"$manifest"
  rm -f "$manifest"
  # Deepest first; a directory someone else put files into stays.
  local dir
  while IFS= read -r dir; do
    [[ -n "$dir" && -d "$dir" ]] || continue
    rmdir "$dir" 2>/dev/null || echo "kept (not empty): $dir" >&2
  done < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
  return 0
}

if ((uninstall)); then
  [[ -f "$root/$MANIFEST_REL" ]] || die "no install manifest at $root/$MANIFEST_REL: nothing installed there by this script"
  remove_installed "$root/$MANIFEST_REL"
  say "uninstalled from $root"
  exit 0
fi

cargo cinstall --version >/dev/null 2>&1 ||
  die "cargo-c is not installed: cargo install cargo-c@0.10.24 --locked"
stage="$(mktemp -d "${TMPDIR:-/tmp}/iam-db-auth-install.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
tree="$stage/tree" manifest="$stage/manifest"
into="$tree$prefix"

[[ -f certs/rds-global-bundle.pem ]] || die "certs/rds-global-bundle.pem is missing from this tree"
export IAM_DB_AUTH_CA_INSTALLED="$prefix/share/iam-db-auth/rds-global-bundle.pem"
# A build tree of its own: cargo-c always passes --target, which builds the host's build
# scripts and proc-macros into target/release differently, and the CA path differs from a plain
# build's; sharing target/release made the next `cargo build --release` rebuild the workspace.
build_dir="${CARGO_TARGET_DIR:-$ROOT/target}/capi"
host="$(rustc -vV | sed -n 's/^host: //p')"
say "the library, its links, the static library, iam-db-auth.pc and the header (cargo cinstall)"
cargo cinstall --release --locked -p iam-db-auth --prefix "$prefix" --libdir "$prefix/lib" \
  --includedir "$prefix/include" --destdir "$tree" --target "$host" --target-dir "$build_dir"
say "the CLI (cargo build, beside the library's build)"
cargo build --release --locked --quiet -p iam-db-auth-cli --target "$host" --target-dir "$build_dir"
install -D -m 0755 "$build_dir/$host/release/iam-db-auth" "$into/bin/iam-db-auth"
say "man pages and shell completions (from the CLI)"
"$into/bin/iam-db-auth" generate-man "$into/share/man/man1"
install -d "$into/share/bash-completion/completions" "$into/share/zsh/site-functions" \
  "$into/share/fish/vendor_completions.d"
"$into/bin/iam-db-auth" completions bash >"$into/share/bash-completion/completions/iam-db-auth"
"$into/bin/iam-db-auth" completions zsh >"$into/share/zsh/site-functions/_iam-db-auth"
"$into/bin/iam-db-auth" completions fish >"$into/share/fish/vendor_completions.d/iam-db-auth.fish"
install -D -m 0644 certs/rds-global-bundle.pem "$into/share/iam-db-auth/rds-global-bundle.pem"

if [[ -f "$root/$MANIFEST_REL" ]]; then
  say "removing the earlier install's files (its manifest)"
  remove_installed "$root/$MANIFEST_REL"
fi

# The manifest: every file (with its hash) and link the install puts in place, and every
# directory it creates; --uninstall reads it.
install -d "$(dirname "$into/$MANIFEST_REL")"
(
  cd "$tree"
  find . -mindepth 1 \( -type f -o -type l \) | sort | while IFS= read -r rel; do
    path="${rel#.}"
    if [[ -L "$rel" ]]; then
      printf 'link\t%s\t%s\n' "$(readlink "$rel")" "$path"
    else
      printf 'file\t%s\t%s\n' "$(sha256sum <"$rel" | cut -d' ' -f1)" "$path"
    fi
  done
  find . -mindepth 1 -type d | sort | while IFS= read -r rel; do
    path="${rel#.}"
    [[ -e "$destdir$path" ]] || printf 'dir\t-\t%s\n' "$path"
  done
) >"$manifest"

mkdir -p "$root"
cp -a "$into/." "$root/"
mv "$manifest" "$root/$MANIFEST_REL"
say "installed into $root ($(grep -c -v $'^dir\t' "$root/$MANIFEST_REL") files and links)"
