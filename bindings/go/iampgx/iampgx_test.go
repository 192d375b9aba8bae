package iampgx_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/iampgx"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/internal/fakedb"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const rdsHost = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"

func TestMain(m *testing.M) {
	// Demo credentials (not an AWS key) unless the stage gave its own.
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		os.Setenv("AWS_ACCESS_KEY_ID", "AKIAIAMDBAUTHDEMO001")
		os.Setenv("AWS_SECRET_ACCESS_KEY", "iamDbAuthDemoSecret/0123456789+abcdefghijkl")
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// A server with a self-signed certificate for the right name gets no token, whatever sslmode
// the connection string asked for; the same server does get one from pgx without the hook (the
// control: the fake would see a token sent to it).
func TestImpostorGetsNoToken(t *testing.T) {
	fake := fakedb.Postgres(t, fakedb.SelfSigned(t, rdsHost, "127.0.0.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	control, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=app dbname=x sslmode=require connect_timeout=10", fake.Port))
	if err != nil {
		t.Fatal(err)
	}
	token, err := iamdbauth.Token(ctx, iamdbauth.Options{Host: "127.0.0.1", Port: fake.Port, User: "app", SigningHost: rdsHost, SigningPort: 5432})
	if err != nil {
		t.Fatal(err)
	}
	control.Password = token
	if conn, err := pgx.ConnectConfig(ctx, control); err == nil {
		conn.Close(ctx)
		t.Fatal("the fake server accepted a login")
	}
	if got := fake.Passwords(); len(got) != 1 || got[0] != token || fake.Handshakes() != 1 {
		t.Fatalf("control: the fake did not capture the token sent over unverified TLS (%d passwords, %d handshakes)", len(got), fake.Handshakes())
	}

	for _, mode := range []string{"disable", "allow", "prefer", "require", "verify-ca sslrootcert=" + writeCert(t, fake)} {
		before := len(fake.Passwords())
		cfg, err := pgxpool.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=app dbname=x sslmode=%s connect_timeout=10", fake.Port, mode))
		if err != nil {
			t.Fatal(err)
		}
		cfg.LazyConnect = true
		cfg.BeforeConnect = iampgx.BeforeConnect(iamdbauth.Options{SigningHost: rdsHost, SigningPort: 5432})
		pool, err := pgxpool.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = pool.Ping(ctx)
		pool.Close()
		if err == nil {
			t.Fatalf("sslmode=%s: the pool logged in to the fake server", mode)
		}
		if got := fake.Passwords(); len(got) != before {
			t.Fatalf("sslmode=%s: the fake server got a password", mode)
		}
		if fake.Handshakes() != 1 {
			t.Fatalf("sslmode=%s: a TLS handshake with the fake server completed", mode)
		}
	}
}

// The fake's certificate as a file, for sslmode=verify-ca (which checks the chain, not the name).
func writeCert(t *testing.T, fake *fakedb.Server) string {
	path := t.TempDir() + "/fake.pem"
	if err := os.WriteFile(path, fakedb.PEM(fake.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
