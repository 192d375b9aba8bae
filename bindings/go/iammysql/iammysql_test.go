package iammysql_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/iammysql"
	"github.com/iam-db-auth/iam-db-auth/bindings/go/internal/fakedb"
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

// A server with a self-signed certificate for the right name gets no token, whatever tls= the
// configuration asked for; the same server does get one from the driver alone with
// tls=skip-verify (the control: the fake would see a token sent to it).
func TestImpostorGetsNoToken(t *testing.T) {
	fake := fakedb.MySQL(t, fakedb.SelfSigned(t, rdsHost, "127.0.0.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	token, err := iamdbauth.Token(ctx, iamdbauth.Options{Host: "127.0.0.1", Port: fake.Port, User: "app", SigningHost: rdsHost, SigningPort: 3306})
	if err != nil {
		t.Fatal(err)
	}
	control := mysql.NewConfig()
	control.Addr, control.User, control.Passwd = fake.Addr, "app", token
	control.TLSConfig, control.AllowCleartextPasswords, control.Timeout = "skip-verify", true, 10*time.Second
	connector, err := mysql.NewConnector(control)
	if err != nil {
		t.Fatal(err)
	}
	if err := sql.OpenDB(connector).PingContext(ctx); err == nil {
		t.Fatal("the fake server accepted a login")
	}
	if got := fake.Passwords(); len(got) != 1 || got[0] != token || fake.Handshakes() != 1 {
		t.Fatalf("control: the fake did not capture the token sent over unverified TLS (%d passwords, %d handshakes)", len(got), fake.Handshakes())
	}

	for _, mode := range []string{"", "false", "preferred", "skip-verify"} {
		cfg := mysql.NewConfig()
		cfg.Addr, cfg.User, cfg.TLSConfig, cfg.Timeout = fake.Addr, "app", mode, 10*time.Second
		connector, err := iammysql.NewConnector(cfg, iamdbauth.Options{SigningHost: rdsHost, SigningPort: 3306})
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(connector)
		err = db.PingContext(ctx)
		db.Close()
		if err == nil {
			t.Fatalf("tls=%q: logged in to the fake server", mode)
		}
		if len(fake.Passwords()) != 1 {
			t.Fatalf("tls=%q: the fake server got a password", mode)
		}
		if fake.Handshakes() != 1 {
			t.Fatalf("tls=%q: a TLS handshake with the fake server completed", mode)
		}
	}
}
