package main

import "fmt"

// Error is a failure the library reported: its code (one of IAM_ERROR_*, never renumbered)
// and its complete message.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (iam_error %d)", e.Message, e.Code)
}
