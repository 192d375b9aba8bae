//go:build iamdbauth_pkgconfig

package iamdbauth

// With -tags iamdbauth_pkgconfig the flags come from iam-db-auth.pc (scripts/install.sh writes it
// into $PREFIX/lib/pkgconfig; point PKG_CONFIG_PATH there).

// #cgo pkg-config: iam-db-auth
import "C"
