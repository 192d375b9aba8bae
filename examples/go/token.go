//go:build !iam_twocall_canary

package main

/*
#cgo LDFLAGS: -liam_db_auth
#include <stdlib.h>
#include "iam_db_auth.h"
*/
import "C"

import "unsafe"

// Token returns a token for user at host:port; region "" means infer or configured.
//
// The failure comes back from the call that failed (iam_token_create's iam_failure), never
// from the thread-local last error: by the time a second cgo call ran, the goroutine could be
// on another OS thread, whose last error is "" or another goroutine's (token_test.go).
func Token(host string, port uint16, user, region string) (string, error) {
	var options C.iam_token_options
	if code := C.iam_token_options_init_sized(&options, C.size_t(unsafe.Sizeof(options))); code != C.IAM_ERROR_OK {
		return "", &Error{Code: int(code), Message: C.GoString(C.iam_error_code_message(C.int(code)))}
	}
	options.host = C.CString(host)
	defer C.free(unsafe.Pointer(options.host))
	options.port = C.uint16_t(port)
	options.user = C.CString(user)
	defer C.free(unsafe.Pointer(options.user))
	if region != "" {
		options.region = C.CString(region)
		defer C.free(unsafe.Pointer(options.region))
	}
	var token *C.char
	var failure *C.iam_failure
	if code := C.iam_token_create(&options, &token, &failure); code != C.IAM_ERROR_OK {
		defer C.iam_failure_free(failure)
		return "", &Error{Code: int(code), Message: C.GoString(C.iam_failure_message(failure))}
	}
	defer C.iam_token_free(token)
	return C.GoString(token), nil
}
