// Get an RDS IAM auth token from Go through the C ABI (cgo), no AWS SDK needed.
//
// Usage: go run . HOST PORT USER [REGION]
// Build flags: CGO_CFLAGS=-I<repo>/include CGO_LDFLAGS="-L<repo>/target/release -liam_db_auth"
package main

/*
#cgo LDFLAGS: -liam_db_auth
#include <stdlib.h>
#include "iam_db_auth.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

// Token returns a token for user at host:port; region "" means infer or configured.
func Token(host string, port uint16, user, region string) (string, error) {
	cHost := C.CString(host)
	defer C.free(unsafe.Pointer(cHost))
	cUser := C.CString(user)
	defer C.free(unsafe.Pointer(cUser))
	var cRegion *C.char
	if region != "" {
		cRegion = C.CString(region)
		defer C.free(unsafe.Pointer(cRegion))
	}
	token := C.iam_token_get(cHost, C.uint16_t(port), cRegion, cUser)
	if token == nil {
		return "", fmt.Errorf("%s (iam_error %d)", C.GoString(C.iam_last_error_message()), int(C.iam_last_error_code()))
	}
	defer C.iam_token_free(token)
	return C.GoString(token), nil
}

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
