//go:build iam_twocall_canary

// The two-call shape, kept as the negative control of token_test.go: the error is read by a
// second cgo call from the thread-local last error, and by then the goroutine may run on
// another OS thread, whose last error is "" or another goroutine's. Never use it; the test
// must fail with it (scripts/tests/50-python-go.sh builds it with -tags iam_twocall_canary).
package main

/*
#cgo LDFLAGS: -liam_db_auth
#include <stdlib.h>
#include "iam_db_auth.h"
*/
import "C"

import "unsafe"

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
		return "", &Error{Code: int(C.iam_last_error_code()), Message: C.GoString(C.iam_last_error_message())}
	}
	defer C.iam_token_free(token)
	return C.GoString(token), nil
}
