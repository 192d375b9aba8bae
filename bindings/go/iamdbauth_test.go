package iamdbauth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
)

const rdsHost = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"

func TestMain(m *testing.M) {
	// Demo credentials (not an AWS key): tokens are made locally and sent nowhere.
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIAIAMDBAUTHDEMO001")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "iamDbAuthDemoSecret/0123456789+abcdefghijkl")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

func TestToken(t *testing.T) {
	token, err := iamdbauth.Token(context.Background(), iamdbauth.Options{Host: rdsHost, Port: 5432, User: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{rdsHost + ":5432/?Action=connect", "&DBUser=app&", "X-Amz-Signature=", "us-east-1%2Frds-db%2Faws4_request"} {
		if !strings.Contains(token, want) {
			t.Errorf("token lacks %q", want)
		}
	}
	if v := iamdbauth.Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("library version %q", v)
	}
}

func TestSigningHostAndKind(t *testing.T) {
	token, err := iamdbauth.Token(context.Background(), iamdbauth.Options{
		Host: "127.0.0.1", Port: 15432, User: "app", SigningHost: rdsHost, SigningPort: 5432, NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, rdsHost+":5432/?") {
		t.Errorf("signed for the wrong endpoint: %.60s", token)
	}
	dsql, err := iamdbauth.Token(context.Background(), iamdbauth.Options{
		Host: "abcdefghijklmnopqrst.dsql.us-east-1.on.aws", Kind: iamdbauth.KindDSQLAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dsql, "Action=DbConnectAdmin") {
		t.Errorf("not a DSQL admin token: %.80s", dsql)
	}
}

func TestFailureIsTyped(t *testing.T) {
	_, err := iamdbauth.Token(context.Background(), iamdbauth.Options{Host: "db.internal", Port: 5432, User: "app"})
	var e *iamdbauth.Error
	if !errors.As(err, &e) || e.Code != iamdbauth.ErrRegionNotFound || !strings.Contains(e.Message, "region") {
		t.Fatalf("want IAM_ERROR_REGION_NOT_FOUND, got %v", err)
	}
}

func TestContextEndedFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := iamdbauth.Token(ctx, iamdbauth.Options{Host: rdsHost, Port: 5432, User: "app"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// Every failure's message belongs to its own call, goroutines hopping between OS threads.
func TestErrorsBelongToTheirCall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var wg sync.WaitGroup
	problems := make(chan string, 4000)
	for g := 0; g < 200; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				id := g*20 + r
				if g%2 == 0 {
					host := fmt.Sprintf("https://db-%d.example.com", id)
					_, err := iamdbauth.Token(context.Background(), iamdbauth.Options{Host: host, Port: 5432, User: "app", Region: "us-east-1"})
					var e *iamdbauth.Error
					if !errors.As(err, &e) || e.Code != iamdbauth.ErrInvalidHost || !strings.Contains(e.Message, host) {
						problems <- fmt.Sprintf("call %d: %v", id, err)
					}
				} else {
					user := fmt.Sprintf("user-%d", id)
					token, err := iamdbauth.Token(context.Background(), iamdbauth.Options{Host: "db.example.com", Port: 5432, User: user, Region: "us-east-1"})
					if err != nil || !strings.Contains(token, "&DBUser="+user+"&") {
						problems <- fmt.Sprintf("call %d: %v", id, err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
}

func TestTLSConfig(t *testing.T) {
	path, err := iamdbauth.CAFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("CAFile %s: %v", path, err)
	}
	c, err := iamdbauth.TLSConfig(rdsHost)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerName != rdsHost || c.RootCAs == nil || c.InsecureSkipVerify {
		t.Fatalf("not a verifying configuration: %+v", c)
	}
	if _, err := iamdbauth.TLSConfig(""); err == nil {
		t.Fatal("a configuration without a server name")
	}
	os.Setenv("IAM_DB_AUTH_CA_FILE", "/nonexistent/ca.pem")
	defer os.Unsetenv("IAM_DB_AUTH_CA_FILE")
	var e *iamdbauth.Error
	if _, err := iamdbauth.TLSConfig(rdsHost); !errors.As(err, &e) || e.Code != iamdbauth.ErrCAUnavailable {
		t.Fatalf("want IAM_ERROR_CA_UNAVAILABLE for a missing IAM_DB_AUTH_CA_FILE, got %v", err)
	}
}
