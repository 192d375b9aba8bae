// Package iamdbauth makes AWS IAM database authentication tokens (RDS, Aurora, DSQL,
// ElastiCache, MemoryDB) through libiam_db_auth, the project's C library, with cgo.
//
// A token is the password for one login and lives 15 minutes, so a pool that opens connections
// long after start-up needs a fresh one for each: the packages iampgx (a pgx BeforeConnect hook)
// and iammysql (a database/sql connector for go-sql-driver/mysql) do that, and both send a token
// only over TLS verified against the RDS CA bundle (TLSConfig).
//
// The failure of a call comes back from that call (iam_token_create's iam_failure), never from
// the library's per-thread last error: a goroutine may run its next cgo call on another OS thread.
package iamdbauth

/*
#include <stdlib.h>
#include <string.h>
#include "iam_db_auth.h"

// iam_ca_file's path and its failure are per-thread storage: copied here, inside the one cgo
// call, before the goroutine can move to another OS thread.
static char *iamdbauth_ca_file(int *code, char **message) {
	const char *path = iam_ca_file();
	if (path == NULL) {
		*code = (int)iam_last_error_code();
		*message = strdup(iam_last_error_message());
		return NULL;
	}
	return strdup(path);
}
*/
import "C"

import (
	"context"
	"fmt"
	"time"
	"unsafe"
)

// Kind is the kind of token (IAM_KIND_*).
type Kind uint32

const (
	KindRDS         Kind = C.IAM_KIND_RDS         // RDS and Aurora (MySQL, MariaDB, PostgreSQL): the default
	KindDSQL        Kind = C.IAM_KIND_DSQL        // Aurora DSQL, a custom database role (DbConnect)
	KindDSQLAdmin   Kind = C.IAM_KIND_DSQL_ADMIN  // Aurora DSQL, the admin role (DbConnectAdmin)
	KindElastiCache Kind = C.IAM_KIND_ELASTICACHE // ElastiCache (Valkey / Redis OSS)
	KindMemoryDB    Kind = C.IAM_KIND_MEMORYDB    // MemoryDB
)

// Options say which token to make. Host, Port (RDS) and User (all but DSQL) are required; every
// other field's zero value is its default.
type Options struct {
	Host string // the endpoint connected to, e.g. mydb.c9akciq32.us-east-1.rds.amazonaws.com
	Port uint16 // the database port (3306, 5432, ...)
	User string // the database user

	Region  string // "" infers it from the endpoint name, else AWS_REGION, the profile's region
	Profile string // "" for IAM_DB_AUTH_PROFILE, else the default chain (AWS_PROFILE)
	Kind    Kind

	// The name and port to sign for when connecting elsewhere (a tunnel, a port-forward, an IP
	// address); "" and 0 for IAM_DB_AUTH_SIGNING_HOST/_PORT, else Host and Port. The driver
	// helpers also verify the server's certificate against this name.
	SigningHost string
	SigningPort uint16

	ExpiresIn time.Duration // 0 for 15 minutes, the only lifetime RDS accepts
	NoCache   bool          // neither read nor fill the library's token cache
	// Serverless signs for ElastiCache Serverless.
	Serverless bool
}

// Error is a failure the library reported: its code (one of IAM_ERROR_*, never renumbered; decide
// on it, not on the text) and its complete message, which never holds a token or a secret.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("iam-db-auth: %s (iam_error %d)", e.Message, e.Code)
}

// Error codes a program may want to tell apart (the C header lists them all).
const (
	ErrInvalidHost        = int(C.IAM_ERROR_INVALID_HOST)
	ErrRegionNotFound     = int(C.IAM_ERROR_REGION_NOT_FOUND)
	ErrNoCredentials      = int(C.IAM_ERROR_NO_CREDENTIALS)
	ErrCredentialsTimeout = int(C.IAM_ERROR_CREDENTIALS_TIMEOUT)
	ErrCAUnavailable      = int(C.IAM_ERROR_CA_UNAVAILABLE)
)

// Token makes a token for o: the password for o.User at o.Host:o.Port. It takes microseconds
// with environment credentials or a cached token; when a network credential source must be
// asked, the library bounds the wait (IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS, default 10 s) and ctx
// can end it sooner: Token then returns ctx.Err() while the call finishes on its own.
func Token(ctx context.Context, o Options) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ctx.Done() == nil {
		return token(o)
	}
	type result struct {
		token string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		t, err := token(o)
		done <- result{t, err}
	}()
	select {
	case r := <-done:
		return r.token, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func token(o Options) (string, error) {
	var options C.iam_token_options
	if code := C.iam_token_options_init_sized(&options, C.size_t(unsafe.Sizeof(options))); code != C.IAM_ERROR_OK {
		return "", &Error{Code: int(code), Message: C.GoString(C.iam_error_code_message(C.int(code)))}
	}
	cstr := func(s string) *C.char {
		if s == "" {
			return nil
		}
		p := C.CString(s)
		return p
	}
	options.kind = C.uint32_t(o.Kind)
	options.host = cstr(o.Host)
	options.port = C.uint16_t(o.Port)
	options.user = cstr(o.User)
	options.region = cstr(o.Region)
	options.profile = cstr(o.Profile)
	options.signing_host = cstr(o.SigningHost)
	options.signing_port = C.uint16_t(o.SigningPort)
	defer func() {
		for _, p := range []*C.char{options.host, options.user, options.region, options.profile, options.signing_host} {
			C.free(unsafe.Pointer(p))
		}
	}()
	if o.ExpiresIn < 0 || o.ExpiresIn > 7*24*time.Hour {
		return "", &Error{Code: int(C.IAM_ERROR_INVALID_EXPIRY), Message: fmt.Sprintf("token lifetime %v is outside what the service accepts", o.ExpiresIn)}
	}
	options.expires_in = C.uint32_t(o.ExpiresIn / time.Second)
	if o.NoCache {
		options.flags |= C.IAM_FLAG_NO_CACHE
	}
	if o.Serverless {
		options.flags |= C.IAM_FLAG_SERVERLESS
	}
	var tok *C.char
	var failure *C.iam_failure
	if code := C.iam_token_create(&options, &tok, &failure); code != C.IAM_ERROR_OK {
		defer C.iam_failure_free(failure)
		return "", &Error{Code: int(code), Message: C.GoString(C.iam_failure_message(failure))}
	}
	defer C.iam_token_free(tok)
	return C.GoString(tok), nil
}

// CAFile is the CA bundle (PEM) servers are verified with, in the project's lookup order:
// IAM_DB_AUTH_CA_FILE, the copy `iam-db-auth ca update` wrote, the installed RDS bundle, else
// the RDS bundle built into the library (written out to a file).
func CAFile() (string, error) {
	var code C.int
	var message *C.char
	path := C.iamdbauth_ca_file(&code, &message)
	if path == nil {
		defer C.free(unsafe.Pointer(message))
		return "", &Error{Code: int(code), Message: C.GoString(message)}
	}
	defer C.free(unsafe.Pointer(path))
	return C.GoString(path), nil
}

// Version is the library's version ("1.0.0").
func Version() string {
	return C.GoString(C.iam_version())
}

// ClearCache forgets every cached token and credential (after rotating keys, for one).
func ClearCache() {
	C.iam_cache_clear()
}
