#!/usr/bin/env bash
# Cold start of the Go and Node.js packages against each language's AWS SDK: the CPU time of a
# fresh process that loads the package and makes one token (perf stat's task-clock, exact; rusage's
# user+sys times move in scheduler ticks, too coarse for a 2 ms process), medians of RUNS processes
# each, the programs alternating. Baselines: the same runtime doing nothing (an
# empty Go program, `node` on an empty file), so "package share" = ours - baseline.
#
#   scripts/bench/go-node-cold-start.sh [RUNS]     (default 60; report on stdout)
#
# Go: bindings/go (GOPATH mode, cgo, libiam_db_auth.so.1 from target/release) against
# aws-sdk-go-v2's config.LoadDefaultConfig + feature/rds/auth.BuildAuthToken and aws-sdk-go v1's
# session.NewSession + rdsutils.BuildAuthToken (Debian's golang-github-aws-aws-sdk-go-v2-dev and
# golang-github-aws-aws-sdk-go-dev). Node: the npm package (dist/node, `scripts/package.sh
# node --quick` if none) against @aws-sdk/rds-signer's Signer.getAuthToken. All sign with the
# demo key from the environment (no AWS files, no metadata endpoint).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
runs="${1:-60}"
command -v perf >/dev/null || die "perf is missing (Debian: linux-perf)"
SIGNER_VERSION=3.1175.0
out="$WORK/bench-go-node"; rm -rf "$out"; mkdir -p "$out/gopath/src"
[[ -f "$LIB" ]] || cargo build --release --quiet
soname_link
host=mydb.c9akciq32.us-east-1.rds.amazonaws.com

# Go programs.
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$WORK/go-cache"
tar -C "$out/gopath/src" -xzf "$(bash scripts/package.sh go | tail -n 1)"
module="$(sed -n 's/^module //p' bindings/go/go.mod)"
mkdir -p "$out/gopath/src/bench/ours" "$out/gopath/src/bench/sdk" "$out/gopath/src/bench/sdkv1" "$out/gopath/src/bench/empty" "$out/gopath/src/bench/cgo"
cat >"$out/gopath/src/bench/ours/main.go" <<GO
package main

import (
	"context"
	"fmt"
	"os"

	iamdbauth "$module"
)

func main() {
	token, err := iamdbauth.Token(context.Background(), iamdbauth.Options{Host: "$host", Port: 5432, User: "app"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(token))
}
GO
cat >"$out/gopath/src/bench/sdk/main.go" <<GO
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	token, err := auth.BuildAuthToken(ctx, "$host:5432", "us-east-1", "app", cfg.Credentials)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(token))
}
GO
cat >"$out/gopath/src/bench/sdkv1/main.go" <<GO
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/rds/rdsutils"
)

func main() {
	sess, err := session.NewSession()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	token, err := rdsutils.BuildAuthToken("$host:5432", "us-east-1", "app", sess.Config.Credentials)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(token))
}
GO
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(0) }\n' >"$out/gopath/src/bench/empty/main.go"
# cgo without the library: what cgo itself costs at start-up (threads, the C runtime).
printf 'package main\n\n// int zero(void) { return 0; }\nimport "C"\nimport "fmt"\n\nfunc main() { fmt.Println(C.zero()) }\n' >"$out/gopath/src/bench/cgo/main.go"
for p in ours sdk sdkv1 empty cgo; do
  CGO_LDFLAGS="-L$ROOT/target/release -Wl,-rpath,$ROOT/target/release" go build -o "$out/go-$p" "bench/$p"
done
# The same program with the library linked statically (-tags iamdbauth_static), when a static
# library is there: scripts/install.sh's, or `cargo rustc --release -p iam-db-auth --lib
# --crate-type staticlib --target-dir target/static` (IAM_DB_AUTH_STATIC_DIR names another).
static_dir="${IAM_DB_AUTH_STATIC_DIR:-$ROOT/target/static/release}"
if [[ -f "$static_dir/libiam_db_auth.a" ]]; then
  CGO_LDFLAGS="-L$static_dir" go build -tags iamdbauth_static -o "$out/go-ours-static" bench/ours
fi

# Node programs.
tarball="$(ls -1t "$ROOT"/dist/node/iam-db-auth-*.tgz 2>/dev/null | head -n 1 || true)"
[[ -n "$tarball" ]] || tarball="$(bash scripts/package.sh node --quick | tail -n 1)"
mkdir -p "$out/node"
echo '{"name":"bench","private":true}' >"$out/node/package.json"
(cd "$out/node" && timeout 300 npm install --no-audit --no-fund --silent "$tarball" "@aws-sdk/rds-signer@$SIGNER_VERSION")
cat >"$out/node/ours.js" <<JS
const t = require('iam-db-auth').token({ host: '$host', port: 5432, user: 'app' });
console.log(t.length);
JS
cat >"$out/node/sdk.js" <<JS
const { Signer } = require('@aws-sdk/rds-signer');
new Signer({ hostname: '$host', port: 5432, username: 'app', region: 'us-east-1' }).getAuthToken().then((t) => console.log(t.length));
JS
: >"$out/node/empty.js"

isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
  python3 - "$runs" "$out" <<'PY'
import os, statistics, subprocess, sys, time
runs, out = int(sys.argv[1]), sys.argv[2]
progs = {
    "go: iamdbauth.Token": [f"{out}/go-ours"],
    "go: iamdbauth.Token, -tags iamdbauth_static": [f"{out}/go-ours-static"],
    "go: aws-sdk-go-v2 BuildAuthToken": [f"{out}/go-sdk"],
    "go: aws-sdk-go (v1) rdsutils.BuildAuthToken": [f"{out}/go-sdkv1"],
    "go: empty program": [f"{out}/go-empty"],
    "go: cgo program, no library": [f"{out}/go-cgo"],
    "node: require('iam-db-auth').token": ["node", f"{out}/node/ours.js"],
    "node: @aws-sdk/rds-signer getAuthToken": ["node", f"{out}/node/sdk.js"],
    "node: empty script": ["node", f"{out}/node/empty.js"],
}
if not os.path.exists(progs["go: iamdbauth.Token, -tags iamdbauth_static"][0]):
    del progs["go: iamdbauth.Token, -tags iamdbauth_static"]
cpu = {k: [] for k in progs}
wall = {k: [] for k in progs}
stat = f"{out}/perf.csv"
for _ in range(runs):
    for name, argv in progs.items():
        t0 = time.perf_counter()
        r = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "-o", stat, "--", *argv],
                           stdout=subprocess.DEVNULL, cwd=f"{out}/node", timeout=60)
        wall[name].append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(f"{name} failed")
        with open(stat) as f:
            ms = [float(l.split(",")[0]) for l in f if "task-clock" in l]
        cpu[name].append(ms[0] / 1000)
med = lambda xs: statistics.median(xs) * 1000
print(f"{runs} processes each, alternating; 1-minute load {os.getloadavg()[0]:.2f} at the end")
print("| program | CPU (task-clock), median ms |")
print("|---|---|")
for name in progs:
    print(f"| {name} | {med(cpu[name]):.2f} |")
for lang, ours, sdk, base in (("go", "go: iamdbauth.Token", "go: aws-sdk-go-v2 BuildAuthToken", "go: empty program"),
                              ("go (cgo baseline)", "go: iamdbauth.Token", "go: aws-sdk-go-v2 BuildAuthToken", "go: cgo program, no library"),
                              ("go (v1)", "go: iamdbauth.Token", "go: aws-sdk-go (v1) rdsutils.BuildAuthToken", "go: empty program"),
                              ("go static (cgo baseline)", "go: iamdbauth.Token, -tags iamdbauth_static", "go: aws-sdk-go-v2 BuildAuthToken", "go: cgo program, no library"),
                              ("node", "node: require('iam-db-auth').token", "node: @aws-sdk/rds-signer getAuthToken", "node: empty script")):
    if ours not in progs:
        continue
    print(f"{lang}: SDK / ours CPU {med(cpu[sdk]) / med(cpu[ours]):.1f}x; ours - baseline {med(cpu[ours]) - med(cpu[base]):.2f} ms CPU, "
          f"SDK - baseline {med(cpu[sdk]) - med(cpu[base]):.2f} ms CPU")
PY
