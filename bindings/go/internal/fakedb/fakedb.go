// Package fakedb plays a PostgreSQL or MySQL server on 127.0.0.1 that presents a self-signed
// certificate and records every password a client sends it: the impostor the driver helpers'
// tests make sure gets no token. It speaks just enough of each protocol for a client to reach the
// point of sending its password (cleartext, the way IAM logins send it).
package fakedb

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Server is one fake server; Close it (tests do with t.Cleanup).
type Server struct {
	Addr string
	Host string
	Port uint16
	Cert tls.Certificate

	ln  net.Listener
	tls *tls.Config
	wg  sync.WaitGroup

	mu         sync.Mutex
	passwords  []string
	handshakes int
}

// Passwords are the passwords clients sent, in order.
func (s *Server) Passwords() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.passwords...)
}

// Handshakes is how many TLS handshakes completed (the client accepted the certificate).
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// SelfSigned is a certificate for names (DNS names or IP addresses) signed by nobody a client
// trusts.
func SelfSigned(t testing.TB, names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// PEM is cert's certificate in PEM (for a client told to trust it).
func PEM(cert tls.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
}

func start(t testing.TB, cert tls.Certificate, serve func(*Server, net.Conn)) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &Server{Addr: addr.String(), Host: "127.0.0.1", Port: uint16(addr.Port), Cert: cert, ln: ln,
		tls: &tls.Config{Certificates: []tls.Certificate{cert}}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				// Every exchange is bounded: a stuck client is a failed test, not a hung one.
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				serve(s, conn)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *Server) startTLS(conn net.Conn) (net.Conn, bool) {
	tc := tls.Server(conn, s.tls)
	if err := tc.Handshake(); err != nil {
		return nil, false
	}
	s.mu.Lock()
	s.handshakes++
	s.mu.Unlock()
	return tc, true
}

func (s *Server) record(password string) {
	s.mu.Lock()
	s.passwords = append(s.passwords, password)
	s.mu.Unlock()
}

// Postgres starts a fake PostgreSQL server: it accepts TLS (SSLRequest) with cert, asks for a
// cleartext password and records it.
func Postgres(t testing.TB, cert tls.Certificate) *Server {
	return start(t, cert, func(s *Server, conn net.Conn) {
		for {
			msg, err := readStartup(conn)
			if err != nil {
				return
			}
			code := uint32(0)
			if len(msg) >= 4 {
				code = binary.BigEndian.Uint32(msg[:4])
			}
			switch code {
			case 80877103: // SSLRequest
				if _, err := conn.Write([]byte{'S'}); err != nil {
					return
				}
				tc, ok := s.startTLS(conn)
				if !ok {
					return
				}
				conn = tc
				continue
			case 80877104: // GSSENCRequest
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			// A StartupMessage: ask for the password in cleartext, as RDS's IAM logins do.
			if _, err := conn.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}); err != nil {
				return
			}
			head := make([]byte, 5)
			if _, err := io.ReadFull(conn, head); err != nil || head[0] != 'p' {
				return
			}
			n := binary.BigEndian.Uint32(head[1:])
			if n < 4 || n > 1<<16 {
				return
			}
			body := make([]byte, n-4)
			if _, err := io.ReadFull(conn, body); err != nil {
				return
			}
			s.record(string(bytes.TrimRight(body, "\x00")))
			fatal := "SFATAL\x00C28P01\x00Mfake server\x00\x00"
			reply := []byte{'E', 0, 0, 0, 0}
			binary.BigEndian.PutUint32(reply[1:], uint32(4+len(fatal)))
			_, _ = conn.Write(append(reply, fatal...))
			return
		}
	})
}

func readStartup(conn net.Conn) ([]byte, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(conn, head); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head)
	if n < 8 || n > 1<<16 {
		return nil, errors.New("bad startup length")
	}
	msg := make([]byte, n-4)
	_, err := io.ReadFull(conn, msg)
	return msg, err
}

// MySQL starts a fake MySQL server: it offers TLS with cert, switches the client to the
// mysql_clear_password plugin and records the password.
func MySQL(t testing.TB, cert tls.Certificate) *Server {
	return start(t, cert, func(s *Server, conn net.Conn) {
		const (
			protocol41   = 0x200
			ssl          = 0x800
			secureConn   = 0x8000
			pluginAuth   = 0x80000
			longPassword = 0x1
			transactions = 0x2000
		)
		caps := uint32(longPassword | protocol41 | ssl | transactions | secureConn | pluginAuth)
		var g bytes.Buffer
		g.WriteByte(10)
		g.WriteString("8.0.0-fake\x00")
		g.Write([]byte{1, 0, 0, 0})
		g.WriteString("abcdefgh\x00")
		g.Write([]byte{byte(caps), byte(caps >> 8), 33, 2, 0, byte(caps >> 16), byte(caps >> 24), 21})
		g.Write(make([]byte, 10))
		g.WriteString("ijklmnopqrst\x00")
		g.WriteString("mysql_native_password\x00")
		if writePacket(conn, 0, g.Bytes()) != nil {
			return
		}
		seq, payload, err := readPacket(conn)
		if err != nil {
			return
		}
		if len(payload) == 32 && binary.LittleEndian.Uint32(payload[:4])&ssl != 0 {
			tc, ok := s.startTLS(conn)
			if !ok {
				return
			}
			conn = tc
			if seq, _, err = readPacket(conn); err != nil {
				return
			}
		}
		// Whatever the handshake response held, switch to the cleartext plugin.
		if writePacket(conn, seq+1, []byte("\xfemysql_clear_password\x00")) != nil {
			return
		}
		seq, payload, err = readPacket(conn)
		if err != nil {
			return
		}
		s.record(string(bytes.TrimRight(payload, "\x00")))
		_ = writePacket(conn, seq+1, []byte("\xff\x15\x04#28000fake server"))
	})
}

func writePacket(conn net.Conn, seq byte, payload []byte) error {
	head := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := conn.Write(append(head, payload...))
	return err
}

func readPacket(conn net.Conn) (byte, []byte, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(conn, head); err != nil {
		return 0, nil, err
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	payload := make([]byte, n)
	_, err := io.ReadFull(conn, payload)
	return head[3], payload, err
}
