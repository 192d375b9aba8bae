package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	// Demo credentials (not an AWS key): tokens are made locally and sent nowhere. Set before
	// the first call, so the library's credential chain sees them.
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIAIAMDBAUTHDEMO001")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "iamDbAuthDemoSecret/0123456789+abcdefghijkl")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// Every failure's message belongs to its own call: 1,000 goroutines on GOMAXPROCS=4, half of
// them failing on purpose, each with an input no other call uses. A binding that reads the
// error in a second cgo call fails this (the goroutine may have moved to another OS thread):
// see token_twocall.go.
func TestErrorsBelongToTheirCall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const goroutines = 1000
	const rounds = 20
	var wg sync.WaitGroup
	problems := make(chan string, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				id := g*rounds + r
				if g%2 == 0 {
					host := fmt.Sprintf("https://db-%d.example.com", id)
					token, err := Token(host, 5432, "app", "us-east-1")
					want := fmt.Sprintf("host '%s' contains a URL scheme", host)
					e, ok := err.(*Error)
					if token != "" || !ok || e.Code != 3 || !strings.Contains(e.Message, want) {
						problems <- fmt.Sprintf("call %d: want IAM_ERROR_INVALID_HOST (3) and %q, got token %d bytes, error %v", id, want, len(token), err)
					}
				} else {
					user := fmt.Sprintf("user-%d", id)
					token, err := Token("db.example.com", 5432, user, "us-east-1")
					if err != nil || !strings.Contains(token, "&DBUser="+user+"&") {
						problems <- fmt.Sprintf("call %d: want a token for %s, got %d bytes, error %v", id, user, len(token), err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(problems)
	n := 0
	for p := range problems {
		if n < 10 {
			t.Error(p)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d calls got an answer that was not theirs", n, goroutines*rounds)
	}
}
