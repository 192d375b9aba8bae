package iamdbauth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// maxCAFile bounds the CA bundle read (the RDS global bundle is about 160 KB).
const maxCAFile = 4 << 20

// TLSConfig is the TLS configuration a token may be sent over: the server's certificate must
// chain to the CA bundle of CAFile and be valid for serverName (the endpoint's name, which is
// the name signed for: Options.SigningHost when set, else Options.Host), TLS 1.2 or newer.
func TLSConfig(serverName string) (*tls.Config, error) {
	if serverName == "" {
		return nil, &Error{Code: ErrInvalidHost, Message: "no server name to verify the server's certificate against"}
	}
	pool, err := caPool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// The parsed bundle, kept while its file is unchanged: pools open connections often, and
// parsing the RDS bundle costs more than a token.
var caCache struct {
	sync.Mutex
	path  string
	size  int64
	mtime time.Time
	pool  *x509.CertPool
}

func caPool() (*x509.CertPool, error) {
	path, err := CAFile()
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Code: ErrCAUnavailable, Message: fmt.Sprintf("CA file %s: %v", path, err)}
	}
	if !info.Mode().IsRegular() || info.Size() > maxCAFile {
		return nil, &Error{Code: ErrCAUnavailable, Message: fmt.Sprintf("CA file %s is not a regular file under %d bytes", path, maxCAFile)}
	}
	caCache.Lock()
	defer caCache.Unlock()
	if caCache.pool != nil && caCache.path == path && caCache.size == info.Size() && caCache.mtime.Equal(info.ModTime()) {
		return caCache.pool, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Code: ErrCAUnavailable, Message: fmt.Sprintf("CA file %s: %v", path, err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &Error{Code: ErrCAUnavailable, Message: fmt.Sprintf("CA file %s holds no certificate", path)}
	}
	caCache.path, caCache.size, caCache.mtime, caCache.pool = path, info.Size(), info.ModTime(), pool
	return pool, nil
}
