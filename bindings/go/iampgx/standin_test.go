//go:build standin

package iampgx_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/iampgx"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

// These run against the PostgreSQL stand-in (scripts/tests/57-package-go.sh starts it and sets
// the environment; IAM_DB_AUTH_CA_FILE names the stand-in's CA).

func env(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (run through scripts/tests/57-package-go.sh)", name)
	}
	return v
}

func standinPool(t *testing.T, ctx context.Context, maxConns int32) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig("host=127.0.0.1 port=" + env(t, "IAM_STANDIN_PG_PORT") +
		" user=" + env(t, "IAM_STANDIN_PG_USER") + " dbname=" + env(t, "IAM_STANDIN_PG_DATABASE") + " connect_timeout=10")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	cfg.BeforeConnect = iampgx.BeforeConnect(iamdbauth.Options{SigningHost: env(t, "IAM_STANDIN_PG_RDS_HOST"), SigningPort: 5432})
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func checkLogin(t *testing.T, ctx context.Context, conn *pgxpool.Conn) {
	var user string
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &ssl); err != nil {
		t.Fatal(err)
	}
	if user != env(t, "IAM_STANDIN_PG_USER") || !ssl {
		t.Fatalf("logged in as %q, TLS %v", user, ssl)
	}
}

func TestStandinPool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := standinPool(t, ctx, 4)
	var conns []*pgxpool.Conn
	for i := 0; i < 4; i++ {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		checkLogin(t, ctx, conn)
		conns = append(conns, conn)
	}
	for _, c := range conns {
		c.Release()
	}
	if n := pool.Stat().TotalConns(); n != 4 {
		t.Fatalf("%d connections, want 4", n)
	}
}

// The pool opens a connection after its first token expired (both clocks 16 minutes on, through
// libfaketime): it logs in with a fresh token, while the first token is refused (the control).
func TestStandinPoolAfterTokenExpired(t *testing.T) {
	clock := env(t, "IAM_TEST_FAKETIME_FILE")
	setClock := func(offset string) {
		if err := os.WriteFile(clock, []byte(offset+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setClock("+0")
	defer setClock("+0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := standinPool(t, ctx, 2)
	first, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	checkLogin(t, ctx, first)
	firstToken := first.Conn().Config().Password
	signedAt := tokenTime(t, firstToken)

	setClock("+16m")
	// The control: the first token, 16 minutes on, is refused.
	stale, err := pgx.ParseConfig("host=127.0.0.1 port=" + env(t, "IAM_STANDIN_PG_PORT") +
		" user=" + env(t, "IAM_STANDIN_PG_USER") + " dbname=" + env(t, "IAM_STANDIN_PG_DATABASE") + " connect_timeout=10")
	if err != nil {
		t.Fatal(err)
	}
	stale.TLSConfig, err = iamdbauth.TLSConfig(env(t, "IAM_STANDIN_PG_RDS_HOST"))
	if err != nil {
		t.Fatal(err)
	}
	stale.Fallbacks, stale.Password = nil, firstToken
	if conn, err := pgx.ConnectConfig(ctx, stale); err == nil {
		conn.Close(ctx)
		t.Fatal("the stand-in accepted a token 16 minutes old: the clocks did not move")
	}

	second, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("the pool could not log in after its first token expired: %v", err)
	}
	defer second.Release()
	checkLogin(t, ctx, second)
	if n := pool.Stat().TotalConns(); n != 2 {
		t.Fatalf("%d connections, want a second one", n)
	}
	if d := tokenTime(t, second.Conn().Config().Password).Sub(signedAt); d < 15*time.Minute {
		t.Fatalf("the second token was signed %v after the first, want 16 minutes", d)
	}
}

// The signing time (X-Amz-Date) of a token.
func tokenTime(t *testing.T, token string) time.Time {
	i := strings.Index(token, "X-Amz-Date=")
	if i < 0 || len(token) < i+len("X-Amz-Date=")+16 {
		t.Fatal("no X-Amz-Date in the token")
	}
	at, err := time.Parse("20060102T150405Z", token[i+len("X-Amz-Date="):][:16])
	if err != nil {
		t.Fatal(err)
	}
	return at
}
