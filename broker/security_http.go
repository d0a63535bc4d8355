package broker

// What the HTTP gateway needs from the broker's security (it runs in the
// same process, `eddy serve`): whether security is on, checking a user's
// password and a principal's ACLs (auth/httpauth), the TLS configuration
// to serve HTTPS with, and an in-process connection for its Kafka client.

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

// InternalPrincipal is the principal of DialInternal connections. It is
// authorized for everything: the gateway checks its users' ACLs itself.
const InternalPrincipal = "User:eddy-internal"

// SecurityEnabled reports whether any listener requires TLS or SASL or the
// authorizer is on.
func (b *Broker) SecurityEnabled() bool {
	if b.authz != nil {
		return true
	}
	for _, l := range b.listeners {
		if l.Protocol != ProtocolPlaintext {
			return true
		}
	}
	return false
}

// CheckPassword reports whether password is user's (checked against the
// user's strongest SCRAM credential, as SASL/PLAIN does).
func (b *Broker) CheckPassword(user, password string) bool {
	s, err := auth.NewSession(auth.Plain, b.creds)
	if err != nil {
		return false
	}
	_, err = s.Step([]byte("\x00" + user + "\x00" + password))
	return err == nil && s.Authenticated()
}

// AuthenticationFailed logs and counts a failed authentication outside
// the Kafka protocol (HTTP basic) and returns the failure throttle's delay
// for host.
func (b *Broker) AuthenticationFailed(mechanism, user, host string) time.Duration {
	b.authFailures.Add(1)
	delay := b.throttle.Failed(host)
	b.logger.Warn("authentication failed", "mechanism", mechanism, "user", user, "remote", host, "delay", delay)
	return delay
}

// Authorize reports whether principal, from host, may perform op on the
// resource; always true without an authorizer.
func (b *Broker) Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	return b.authz == nil || b.authz.Authorize(principal, host, op, rt, name)
}

// TLSConfig returns the TLS configuration of the first TLS listener (nil
// if none).
func (b *Broker) TLSConfig() *tls.Config {
	for _, l := range b.listeners {
		if l.usesTLS() {
			return l.TLS
		}
	}
	return nil
}

// DialInternal returns an in-process connection to the broker, served as
// an authenticated PLAINTEXT connection of InternalPrincipal. It has the
// signature of kgo.Dialer's function (the address is ignored): the
// gateway's Kafka client uses it when the listeners require TLS or SASL.
func (b *Broker) DialInternal(ctx context.Context, _, _ string) (net.Conn, error) {
	if b.closed.Load() {
		return nil, net.ErrClosed
	}
	client, server := net.Pipe()
	l := &listener{Listener: Listener{Name: "internal", Protocol: ProtocolPlaintext}, host: b.host, port: b.port}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		c := b.trackConn(server, l)
		if c == nil {
			server.Close()
			return
		}
		defer b.untrackConn(c)
		c.sec.principal, c.sec.internal = InternalPrincipal, true
		b.serveConnWith(c)
	}()
	return client, nil
}
