// Package iampgx logs pgx (v4) connections in with IAM tokens: BeforeConnect gives each new
// connection of a pgxpool a fresh token, so a pool keeps logging in long after its first token
// expired, and sends it only over TLS verified against the RDS CA bundle.
//
//	cfg, _ := pgxpool.ParseConfig("host=mydb.c9akciq32.us-east-1.rds.amazonaws.com user=app dbname=sales")
//	cfg.BeforeConnect = iampgx.BeforeConnect(iamdbauth.Options{})
//	pool, err := pgxpool.ConnectConfig(ctx, cfg)
package iampgx

import (
	"context"
	"crypto/tls"

	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

// BeforeConnect returns a pgxpool.Config.BeforeConnect hook (also pgx's stdlib
// OptionBeforeConnect) that calls Prepare with the options in template.
func BeforeConnect(template iamdbauth.Options) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, cfg *pgx.ConnConfig) error {
		return Prepare(ctx, cfg, template)
	}
}

// Prepare readies cfg (a copy the caller connects with, as pgxpool hands BeforeConnect) for one
// login: a fresh token as its password, for cfg's host, port and user unless template names
// them (template's region, profile, signing host and port, kind and cache flag apply), and TLS
// that verifies the server before the token is sent:
//   - no TLS, or TLS that skips verifying the server's name (sslmode disable, allow, prefer,
//     require, verify-ca) becomes TLS verified against iamdbauth.CAFile for the signed name;
//   - verify-full keeps its configuration, with the RDS CA bundle when it named no sslrootcert.
//
// The fallbacks (sslmode prefer and allow, several hosts) get the same treatment.
func Prepare(ctx context.Context, cfg *pgx.ConnConfig, template iamdbauth.Options) error {
	o := template
	if o.Host == "" {
		o.Host = cfg.Host
	}
	if o.Port == 0 {
		o.Port = cfg.Port
	}
	if o.User == "" {
		o.User = cfg.User
	}
	serverName := o.SigningHost
	if serverName == "" {
		serverName = o.Host
	}
	secured, err := secure(cfg.TLSConfig, serverName)
	if err != nil {
		return err
	}
	cfg.TLSConfig = secured
	fallbacks := cfg.Fallbacks[:0:0]
	type hostPort struct {
		host string
		port uint16
	}
	seen := map[hostPort]bool{{cfg.Host, cfg.Port}: true}
	for _, fb := range cfg.Fallbacks {
		key := hostPort{fb.Host, fb.Port}
		if seen[key] {
			continue // sslmode prefer/allow's plaintext try, now the same verified TLS
		}
		seen[key] = true
		name := serverName
		if fb.Host != cfg.Host && template.SigningHost == "" {
			name = fb.Host
		}
		fbTLS, err := secure(fb.TLSConfig, name)
		if err != nil {
			return err
		}
		fallbacks = append(fallbacks, &pgconn.FallbackConfig{Host: fb.Host, Port: fb.Port, TLSConfig: fbTLS})
	}
	cfg.Fallbacks = fallbacks
	token, err := iamdbauth.Token(ctx, o)
	if err != nil {
		return err
	}
	cfg.Password = token
	return nil
}

// secure returns c when it verifies the server's name, else verified TLS for serverName.
func secure(c *tls.Config, serverName string) (*tls.Config, error) {
	if c != nil && !c.InsecureSkipVerify {
		if c.RootCAs != nil {
			return c, nil
		}
		rds, err := iamdbauth.TLSConfig(serverName)
		if err != nil {
			return nil, err
		}
		c = c.Clone()
		c.RootCAs = rds.RootCAs
		return c, nil
	}
	return iamdbauth.TLSConfig(serverName)
}
