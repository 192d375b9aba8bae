//go:build !iamdbauth_pkgconfig && !iamdbauth_static

package iamdbauth

// The library is found by the linker's usual search (a .deb or rpm installs it in the system
// library directory); for an install tree elsewhere, set CGO_LDFLAGS="-L$PREFIX/lib
// -Wl,-rpath,$PREFIX/lib", or build with -tags iamdbauth_pkgconfig and PKG_CONFIG_PATH.

// #cgo LDFLAGS: -liam_db_auth
import "C"
