// Get an RDS IAM auth token from Go through the C ABI (cgo), no AWS SDK needed.
//
// Usage: go run . HOST PORT USER [REGION]
// Build flags: CGO_CFLAGS=-I<repo>/include CGO_LDFLAGS="-L<repo>/target/release -liam_db_auth"
// (or, installed: CGO_CFLAGS="$(pkg-config --cflags iam-db-auth)" CGO_LDFLAGS="$(pkg-config --libs iam-db-auth)").
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 4 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: iam-token HOST PORT USER [REGION]")
		os.Exit(2)
	}
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error: port:", err)
		os.Exit(2)
	}
	region := ""
	if len(os.Args) == 5 {
		region = os.Args[4]
	}
	token, err := Token(os.Args[1], uint16(port), os.Args[3], region)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Println(token)
}
