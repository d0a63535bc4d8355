package broker

// Connection security: TLS on SSL listeners, SASL on SASL listeners (see
// sasl_handshake.go and sasl_authenticate.go), and the principal every
// request is authorized as (authorize.go).
//
// Before a SASL connection has authenticated, only ApiVersions,
// SaslHandshake and SaslAuthenticate are accepted and requests are at most
// preAuthMaxBytes (Kafka's sasl.server.max.receive.size); anything else
// closes the connection, as in Kafka. A failed authentication is logged,
// counted, answered with SASL_AUTHENTICATION_FAILED after a delay that
// doubles with each consecutive failure from the same host (auth.Throttle),
// and the connection is closed.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

// SecurityDir is where credentials and ACLs are kept, under the data
// directory.
const SecurityDir = "security"

const (
	preAuthMaxBytes     = 512 << 10
	tlsHandshakeTimeout = 10 * time.Second
)

// security is the broker's share: credentials, the authorizer (nil when
// authorization is off) and the failed-authentication throttle.
type security struct {
	creds        *auth.Store
	authz        *auth.Authorizer
	throttle     *auth.Throttle
	authFailures atomic.Int64
}

func (b *Broker) openSecurity() error {
	dir := path.Join(b.cfg.dataDir, SecurityDir)
	var err error
	if b.creds, err = auth.OpenStore(b.fs, dir); err != nil {
		return err
	}
	if b.cfg.authorizer != nil {
		if b.authz, err = auth.OpenAuthorizer(b.fs, dir, *b.cfg.authorizer); err != nil {
			return err
		}
	}
	b.throttle = auth.NewThrottle()
	b.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "eddy_authentication_failures_total",
		Help: "Failed authentications (SASL on Kafka listeners, HTTP basic on the gateway).",
	}, func() float64 { return float64(b.authFailures.Load()) }))
	return nil
}

// SecurityStats are counters of the broker's security.
type SecurityStats struct {
	// AuthenticationFailures counts failed SASL authentications.
	AuthenticationFailures int64
}

// SecurityStats returns the broker's security counters.
func (b *Broker) SecurityStats() SecurityStats {
	return SecurityStats{AuthenticationFailures: b.authFailures.Load()}
}

// connSecurity is a connection's security state. It is read and written
// only on the connection's read loop (handlers run there).
type connSecurity struct {
	l             *listener
	host          string // the client's IP, as ACLs name hosts
	principal     string // "User:name"
	authenticated bool   // false only on SASL listeners until SaslAuthenticate succeeds
	session       auth.Session
	mechanism     string
	rawSASL       bool // after SaslHandshake v0: the next frame is a bare SASL token
	failed        bool // an authentication failed: nothing more is accepted
	internal      bool // DialInternal: authorized for everything
}

func newConnSecurity(l *listener, nc net.Conn) connSecurity {
	host := nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return connSecurity{l: l, host: host, principal: auth.AnonymousUser, authenticated: !l.usesSASL()}
}

// secureConn wraps nc in TLS on SSL and SASL_SSL listeners.
func (b *Broker) secureConn(nc net.Conn, l *listener) net.Conn {
	if l.usesTLS() {
		return tls.Server(nc, l.TLS)
	}
	return nc
}

// startTLS runs the TLS handshake of a TLS connection (bounded in time)
// and, on SSL listeners, takes the principal from the client certificate.
func (c *conn) startTLS() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	if st := tc.ConnectionState(); c.sec.l.Protocol == ProtocolSSL && len(st.PeerCertificates) > 0 {
		c.sec.principal = "User:" + st.PeerCertificates[0].Subject.String()
	}
	return nil
}

// admit refuses, before SASL authentication, every API but ApiVersions
// and the SASL ones.
func (c *conn) admit(key int16) error {
	if c.sec.authenticated {
		return nil
	}
	switch kmsg.Key(key) {
	case kmsg.ApiVersions, kmsg.SASLHandshake, kmsg.SASLAuthenticate:
		if !c.sec.failed {
			return nil
		}
	}
	return fmt.Errorf("%s before SASL authentication", kmsg.NameForKey(key))
}

// frameLimits are the smallest and largest frame accepted now: a request
// has at least a header (8 bytes) while a bare SASL token (after
// SaslHandshake v0) may be empty; before authentication frames are at
// most preAuthMaxBytes.
func (c *conn) frameLimits() (int64, int64) {
	if c.sec.authenticated {
		return 8, c.b.cfg.maxRequestBytes
	}
	minSize := int64(8)
	if c.sec.rawSASL {
		minSize = 0
	}
	return minSize, min(preAuthMaxBytes, c.b.cfg.maxRequestBytes)
}

// saslStep runs one client SASL message through the session. On success
// it returns the server's message; once the exchange completes the
// connection is authenticated. On failure the session is over: the
// failure is logged and counted, and the returned delay (growing with the
// host's consecutive failures) is how long to wait before answering.
func (c *conn) saslStep(in []byte) ([]byte, time.Duration, error) {
	s := c.sec.session
	if s == nil {
		return nil, 0, errors.New("SASL message without a SaslHandshake")
	}
	out, err := s.Step(in)
	if err != nil {
		c.sec.session, c.sec.rawSASL, c.sec.failed = nil, false, true
		c.b.authFailures.Add(1)
		delay := c.b.throttle.Failed(c.sec.host)
		c.logger.Warn("authentication failed", "mechanism", c.sec.mechanism, "client_id", c.clientID, "err", err, "delay", delay)
		return nil, delay, err
	}
	if s.Authenticated() {
		c.sec.session, c.sec.rawSASL = nil, false
		c.sec.authenticated = true
		c.sec.principal = "User:" + s.User()
		c.b.throttle.Succeeded(c.sec.host)
		c.logger.Debug("authenticated", "principal", c.sec.principal, "mechanism", c.sec.mechanism)
	}
	return out, 0, nil
}

// rawSASLKey marks the pending answer to a bare SASL token (after
// SaslHandshake v0): the token alone, size-prefixed, with no header.
const rawSASLKey = -1

// dispatchRawSASL serves a bare SASL token. A failed authentication
// closes the connection (after the throttle's delay) without an answer, as
// Kafka does for SaslHandshake v0 clients.
func (c *conn) dispatchRawSASL(buf []byte) (*pending, error) {
	p := &pending{key: rawSASLKey, ready: make(chan struct{})}
	out, delay, err := c.saslStep(buf)
	if err != nil {
		time.AfterFunc(delay, func() { p.finish(nil, fmt.Errorf("SASL authentication: %w", err)) })
		return p, nil
	}
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.SASLAuthBytes = out
	p.finish(resp, nil)
	return p, nil
}

// appendRawSASL frames a bare SASL token.
func appendRawSASL(dst []byte, p *pending) []byte {
	tok := p.resp.(*kmsg.SASLAuthenticateResponse).SASLAuthBytes
	dst = append(dst, byte(len(tok)>>24), byte(len(tok)>>16), byte(len(tok)>>8), byte(len(tok)))
	return append(dst, tok...)
}

// authFailedCode is SASL_AUTHENTICATION_FAILED.
var authFailedCode = kerr.SaslAuthenticationFailed.Code
