#!/usr/bin/env bash
# Seeds for the fuzz corpora that a fuzzer would take long to find on its own: the known
# tokens of fuzz_support::known_tokens (made here with the CLI, same keys and time), each
# prefixed by its server's index for verify_bytes, and endpoint names of every shape.
# Run once before the first long fuzz run; the committed corpus already contains them.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"
[[ -x "$BIN" ]] || cargo build --release --quiet
out="$ROOT/fuzz/corpus"
mkdir -p "$out"/{verify_bytes,endpoint,timestamp}
long=(AWS_ACCESS_KEY_ID=AKIAFUZZLONGTERM0001 AWS_SECRET_ACCESS_KEY=FuzzSecretLongTerm/0123456789+abcdefghijk)
temp=(AWS_ACCESS_KEY_ID=ASIAFUZZTEMPORARY001 AWS_SECRET_ACCESS_KEY=FuzzSecretTemporary/0123456789+abcdefghij
  "AWS_SESSION_TOKEN=FuzzSessionToken//////////wEaDH+abc/def+ghi==")
at=(--signing-time 2026-01-02T03:04:05Z)
i=0
seed() { # creds-array-name args...
  local -n creds="$1"; shift
  local token
  token="$(isolated_aws_env env "${creds[@]}" "$BIN" token "${at[@]}" "$@")"
  { printf "\\x$(printf %02x "$i")"; printf '%s' "$token"; } >"$out/verify_bytes/known-$i"
  i=$((i + 1))
}
seed long --host mydb.c9akciq32.us-east-1.rds.amazonaws.com --port 5432 --user app_user --region us-east-1
seed temp --host MyDB.cluster-c9akciq32.eu-west-3.rds.amazonaws.com --port 3306 --user 'a+b@c/d é' --region eu-west-3
seed long --host db.internal --port 443 --user admin --region us-gov-west-1
seed temp --kind dsql-admin --host abcdefghijklmnopqrst.dsql.us-east-1.on.aws --expires-in 3600 --region us-east-1
seed long --kind elasticache --serverless --host My-Cache --user app --region us-west-2
seed temp --kind memorydb --host mycluster --user u --expires-in 60 --region ap-southeast-2
n=0
for host in mydb.c9akciq32.us-east-1.rds.amazonaws.com prod.cluster-ro-c9akciq32.eu-central-1.rds.amazonaws.com \
  mydb.c9akciq32.rds.cn-north-1.amazonaws.com.cn mydb.c9akciq32.us-iso-east-1.rds.c2s.ic.gov \
  abcdefghijklmnopqrst.dsql.us-east-1.on.aws '[2001:db8::5]' 127.0.0.1 us-gov-west-1 'db.example.com:5432' \
  'https://db.example.com/x?y#z'; do
  printf '%s' "$host" >"$out/endpoint/seed-$n"; n=$((n + 1))
done
for t in 20260102T030405Z 2026-01-02T03:04:05Z 2024-02-29T23:59:59.999+05:30 9999-12-31T23:59:59Z; do
  printf '%s' "$t" >"$out/timestamp/seed-$n"; n=$((n + 1))
done
say "seeds written to $out"
