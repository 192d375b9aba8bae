//go:build standin

package iammysql_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/iammysql"
)

// These run against the MariaDB stand-in (scripts/tests/57-package-go.sh starts it and sets the
// environment; IAM_DB_AUTH_CA_FILE names the stand-in's CA).

func env(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (run through scripts/tests/57-package-go.sh)", name)
	}
	return v
}

func options(t *testing.T) iamdbauth.Options {
	return iamdbauth.Options{SigningHost: env(t, "IAM_STANDIN_MARIADB_RDS_HOST"), SigningPort: 3306}
}

func config(t *testing.T) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Addr = "127.0.0.1:" + env(t, "IAM_STANDIN_MARIADB_PORT")
	cfg.User = env(t, "IAM_STANDIN_MARIADB_SSL_USER")
	cfg.DBName = env(t, "IAM_STANDIN_MARIADB_DATABASE")
	cfg.Timeout = 10 * time.Second
	return cfg
}

func standinDB(t *testing.T) *sql.DB {
	connector, err := iammysql.NewConnector(config(t), options(t))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

func checkLogin(t *testing.T, ctx context.Context, conn *sql.Conn) {
	var user, cipher string
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&user); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(user, env(t, "IAM_STANDIN_MARIADB_SSL_USER")+"@") || cipher == "" {
		t.Fatalf("logged in as %q, TLS cipher %q", user, cipher)
	}
}

func TestStandinPool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := standinDB(t)
	var conns []*sql.Conn
	for i := 0; i < 4; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		checkLogin(t, ctx, conn)
		conns = append(conns, conn)
	}
	if n := db.Stats().OpenConnections; n != 4 {
		t.Fatalf("%d connections, want 4", n)
	}
	for _, c := range conns {
		c.Close()
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
	db := standinDB(t)
	first, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	checkLogin(t, ctx, first)
	// The token the pool used: the library's cache hands the same one back.
	o := options(t)
	o.Host, o.User = "127.0.0.1", env(t, "IAM_STANDIN_MARIADB_SSL_USER")
	port, _ := strconv.Atoi(env(t, "IAM_STANDIN_MARIADB_PORT"))
	o.Port = uint16(port)
	firstToken, err := iamdbauth.Token(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	setClock("+16m")
	// The control: the first token, 16 minutes on, is refused.
	tlsConfig, err := iamdbauth.TLSConfig(env(t, "IAM_STANDIN_MARIADB_RDS_HOST"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mysql.RegisterTLSConfig("stale-control", tlsConfig); err != nil {
		t.Fatal(err)
	}
	stale := config(t)
	stale.Passwd, stale.AllowCleartextPasswords, stale.TLSConfig = firstToken, true, "stale-control"
	staleConnector, err := mysql.NewConnector(stale)
	if err != nil {
		t.Fatal(err)
	}
	staleDB := sql.OpenDB(staleConnector)
	defer staleDB.Close()
	if err := staleDB.PingContext(ctx); err == nil {
		t.Fatal("the stand-in accepted a token 16 minutes old: the clocks did not move")
	}

	second, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("the pool could not log in after its first token expired: %v", err)
	}
	defer second.Close()
	checkLogin(t, ctx, second)
	if n := db.Stats().OpenConnections; n != 2 {
		t.Fatalf("%d connections, want a second one", n)
	}
}
