# Shared helpers for the project's scripts. Source it: `source scripts/lib.sh`.
# Sets ROOT (the repository), WORK (scratch space, .work/), BIN and LIB (release artifacts).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${IAM_TEST_WORK:-$ROOT/.work}"
BIN="$ROOT/target/release/iam-db-auth"
LIB="$ROOT/target/release/libiam_db_auth.so"
VENV="$ROOT/.venv"
mkdir -p "$WORK"

# Makes a build tree's library loadable by programs linked against it (-L DIR -liam_db_auth):
# they record the library's SONAME (libiam_db_auth.so.1) and the dynamic loader looks for that
# name, while cargo writes only libiam_db_auth.so. Links the SONAME to it in DIR (default: the
# release tree; any target's, readelf reads them all); idempotent.
soname_link() {
  local dir="${1:-$ROOT/target/release}" soname
  soname="$(readelf -d "$dir/libiam_db_auth.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')" ||
    die "cannot read the SONAME of $dir/libiam_db_auth.so"
  [[ "$soname" == libiam_db_auth.so.* ]] || die "$dir/libiam_db_auth.so has SONAME '$soname'"
  ln -sfn libiam_db_auth.so "$dir/$soname"
}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs the rest of the command line with no AWS settings from the caller's environment, no
# real metadata endpoint and no shared config files: tests see only what they set up.
isolated_aws_env() {
  local vars=() name
  while IFS='=' read -r name _; do
    case "$name" in AWS_*|IAM_DB_AUTH_*) vars+=("-u" "$name") ;; esac
  done < <(env)
  env "${vars[@]}" \
    AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE="$WORK/no-aws-config" \
    AWS_SHARED_CREDENTIALS_FILE="$WORK/no-aws-credentials" \
    "$@"
}

# Demo credentials: a long-term key the local verifier knows (not an AWS key).
DEMO_ACCESS_KEY_ID="AKIAIAMDBAUTHDEMO001"
DEMO_SECRET_ACCESS_KEY="iamDbAuthDemoSecret/0123456789+abcdefghijkl"

# Writes a keystore file for the verifier with the demo key and any extra lines given.
write_keystore() {
  local file="$1"; shift
  {
    echo "# access_key_id secret_access_key [session_token]"
    echo "$DEMO_ACCESS_KEY_ID $DEMO_SECRET_ACCESS_KEY"
    for line in "$@"; do echo "$line"; done
  } >"$file"
  chmod 600 "$file"
}

# pytest's marker selection for the tier scripts/test.sh is running (IAM_TEST_TIER): the fast
# tier runs what is not marked deep, the deep tier the rest; outside the runner, everything.
tier_marker() {
  case "${IAM_TEST_TIER:-}" in
    fast) printf '%s\n' -m "not deep" ;;
    deep) printf '%s\n' -m deep ;;
  esac
}
