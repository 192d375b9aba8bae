//go:build iamdbauth_static

package iamdbauth

// With -tags iamdbauth_static the library is linked in statically (libiam_db_auth.a, from
// scripts/install.sh; CGO_LDFLAGS="-L$PREFIX/lib"): no libiam_db_auth.so.1 to ship beside the
// program, and no dynamic loading at start-up. The system libraries are those the Rust standard
// library needs (the .pc file's Libs.private).

// #cgo LDFLAGS: -l:libiam_db_auth.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
import "C"
