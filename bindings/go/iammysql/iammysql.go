// Package iammysql logs go-sql-driver/mysql connections in with IAM tokens: NewConnector gives
// every new connection of a database/sql pool a fresh token (sent with the cleartext password
// plugin, as RDS requires), so the pool keeps logging in long after its first token expired, and
// sends it only over TLS verified against the RDS CA bundle.
//
//	cfg := mysql.NewConfig()
//	cfg.Addr, cfg.User, cfg.DBName = "mydb.c9akciq32.us-east-1.rds.amazonaws.com:3306", "app", "sales"
//	connector, err := iammysql.NewConnector(cfg, iamdbauth.Options{})
//	db := sql.OpenDB(connector)
package iammysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
	iamdbauth "github.com/iam-db-auth/iam-db-auth/bindings/go"
)

var registered uint64

// NewConnector returns a database/sql connector for cfg whose every connection logs in with a
// fresh token for cfg's address and user (unless template names them; template's region,
// profile, signing host and port, kind and cache flag apply). TLS: cfg.TLSConfig "true" or a
// name registered with mysql.RegisterTLSConfig is kept (the caller chose a verifying
// configuration); anything else ("", "false", "skip-verify", "preferred") becomes TLS verified
// against iamdbauth.CAFile for the signed name. Only TCP addresses are accepted.
func NewConnector(cfg *mysql.Config, template iamdbauth.Options) (driver.Connector, error) {
	c := cfg.Clone()
	if c.Net == "" {
		c.Net = "tcp"
	}
	if c.Net != "tcp" && c.Net != "tcp4" && c.Net != "tcp6" {
		return nil, fmt.Errorf("iam-db-auth: network %q: IAM logins need TLS over TCP", c.Net)
	}
	host, portText, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host, portText = c.Addr, "3306"
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("iam-db-auth: port in %q: %v", c.Addr, err)
	}
	o := template
	if o.Host == "" {
		o.Host = host
	}
	if o.Port == 0 {
		o.Port = uint16(port)
	}
	if o.User == "" {
		o.User = c.User
	}
	switch c.TLSConfig {
	case "", "false", "skip-verify", "preferred":
		serverName := o.SigningHost
		if serverName == "" {
			serverName = o.Host
		}
		tlsConfig, err := iamdbauth.TLSConfig(serverName)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("iam-db-auth-%d", atomic.AddUint64(&registered, 1))
		if err := mysql.RegisterTLSConfig(name, tlsConfig); err != nil {
			return nil, err
		}
		c.TLSConfig = name
	}
	c.AllowCleartextPasswords = true
	c.Passwd = ""
	// Checks the configuration now rather than at the first connection.
	if _, err := mysql.NewConnector(c); err != nil {
		return nil, err
	}
	return &connector{cfg: c, options: o}, nil
}

type connector struct {
	cfg     *mysql.Config
	options iamdbauth.Options
}

// Connect logs one new connection in with a fresh token (the library's cache hands the same
// token back while at least two minutes of its life are left).
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	token, err := iamdbauth.Token(ctx, c.options)
	if err != nil {
		return nil, err
	}
	cfg := c.cfg.Clone()
	cfg.Passwd = token
	inner, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return inner.Connect(ctx)
}

func (c *connector) Driver() driver.Driver { return mysql.MySQLDriver{} }
