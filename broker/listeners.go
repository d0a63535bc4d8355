package broker

// Listeners: each address the broker accepts Kafka clients on has its own
// security protocol, as in Kafka (listeners=, listener.security.protocol.map=):
//
//	PLAINTEXT       no TLS, no authentication (principal User:ANONYMOUS)
//	SSL             TLS; with ssl.client.auth=required the client
//	                certificate's subject is the principal (User:CN=...)
//	SASL_PLAINTEXT  SASL authentication, no TLS
//	SASL_SSL        SASL authentication over TLS
//
// TLS settings come from PEM files (ssl.keystore.location: certificate
// chain and, unless ssl.key.location is set, the private key;
// ssl.truststore.location: CA certificates for client certificates) and
// can be set per listener with Kafka's listener.name.<name>. prefix.
// TLS 1.2 is the minimum (ssl.enabled.protocols=TLSv1.3 requires 1.3),
// with Go's default (forward-secret, AEAD) cipher suites.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/eddy-streaming/eddy/auth"
)

// Security protocols of a listener.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// Listener is one address the broker serves Kafka clients on.
type Listener struct {
	// Name identifies the listener (default: its protocol).
	Name string
	// Addr is the host:port to bind (port 0 picks a free port).
	Addr string
	// Protocol is PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Advertised is the host:port given to clients connected to this
	// listener (default: the bound address).
	Advertised string
	// TLS is the server TLS configuration; required for SSL and SASL_SSL.
	TLS *tls.Config
	// Mechanisms are the SASL mechanisms accepted (default
	// SCRAM-SHA-256 and SCRAM-SHA-512; PLAIN must be enabled explicitly).
	Mechanisms []string
}

func (l Listener) usesTLS() bool { return l.Protocol == ProtocolSSL || l.Protocol == ProtocolSASLSSL }
func (l Listener) usesSASL() bool {
	return l.Protocol == ProtocolSASLPlaintext || l.Protocol == ProtocolSASLSSL
}

// WithListener adds a listener. Without any (from this option or the
// listeners setting), the broker has one PLAINTEXT listener on WithListen's
// address.
func WithListener(l Listener) Option {
	return optFn(func(c *config) { c.listeners = append(c.listeners, l) })
}

// listener is a bound Listener.
type listener struct {
	Listener
	ln   net.Listener
	host string // advertised
	port int32
}

// defaultMechanisms are enabled on SASL listeners unless configured.
var defaultMechanisms = []string{auth.ScramSHA256, auth.ScramSHA512}

func (l *Listener) validate() error {
	if l.Protocol == "" {
		l.Protocol = ProtocolPlaintext
	}
	if l.Name == "" {
		l.Name = l.Protocol
	}
	switch l.Protocol {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
	default:
		return fmt.Errorf("listener %s: unknown security protocol %q", l.Name, l.Protocol)
	}
	if l.usesTLS() && l.TLS == nil {
		return fmt.Errorf("listener %s: %s needs TLS settings (ssl.keystore.location)", l.Name, l.Protocol)
	}
	if l.usesSASL() {
		if len(l.Mechanisms) == 0 {
			l.Mechanisms = defaultMechanisms
		}
		for _, m := range l.Mechanisms {
			if !slices.Contains(auth.SupportedMechanisms, m) {
				return fmt.Errorf("listener %s: SASL mechanism %q is not supported (%s)", l.Name, m, strings.Join(auth.SupportedMechanisms, ", "))
			}
		}
	}
	return nil
}

// bindListeners opens every configured listener; b.ln, b.host and b.port
// are the first one's.
func (b *Broker) bindListeners() error {
	ls := b.cfg.listeners
	if len(ls) == 0 {
		ls = []Listener{{Addr: b.cfg.listen, Advertised: b.cfg.advertised}}
	}
	names := map[string]bool{}
	for _, l := range ls {
		if err := l.validate(); err != nil {
			b.closeListeners()
			return err
		}
		if names[l.Name] {
			b.closeListeners()
			return fmt.Errorf("listener %s configured twice", l.Name)
		}
		names[l.Name] = true
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			b.closeListeners()
			return fmt.Errorf("listener %s: %w", l.Name, err)
		}
		bl := &listener{Listener: l, ln: ln}
		b.listeners = append(b.listeners, bl)
		adv := l.Advertised
		if adv == "" {
			adv = ln.Addr().String()
		}
		host, portStr, err := net.SplitHostPort(adv)
		port, perr := strconv.Atoi(portStr)
		if err != nil || perr != nil {
			b.closeListeners()
			return fmt.Errorf("listener %s: advertised address %q is not host:port", l.Name, adv)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		bl.host, bl.port = host, int32(port)
	}
	first := b.listeners[0]
	b.ln, b.host, b.port = first.ln, first.host, first.port
	return nil
}

func (b *Broker) closeListeners() {
	for _, l := range b.listeners {
		l.ln.Close()
	}
}

// ListenerAddr returns the bound address of the listener named name ("" if
// there is none).
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.listeners {
		if l.Name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// advertised is the broker's address as given to this connection's
// client: its listener's advertised host and port.
func (c *conn) advertised() (string, int32) {
	if c.sec.l == nil {
		return c.b.host, c.b.port
	}
	return c.sec.l.host, c.sec.l.port
}

// TLSFiles names the PEM files of a TLS configuration.
type TLSFiles struct {
	Cert       string // certificate chain (and the key, if Key is empty)
	Key        string // private key
	CA         string // CA certificates that verify client certificates
	ClientAuth string // none (default), requested, required
	MinVersion uint16 // default tls.VersionTLS12
}

// ServerTLS builds a server tls.Config from PEM files with Eddy's defaults.
func ServerTLS(f TLSFiles) (*tls.Config, error) {
	keyFile := f.Key
	if keyFile == "" {
		keyFile = f.Cert
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   max(f.MinVersion, tls.VersionTLS12),
	}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("reading TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate in %s", f.CA)
		}
		cfg.ClientCAs = pool
	}
	switch f.ClientAuth {
	case "", "none":
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("ssl.client.auth %q is not none, requested or required", f.ClientAuth)
	}
	if cfg.ClientAuth != tls.NoClientCert && cfg.ClientCAs == nil {
		return nil, errors.New("ssl.client.auth needs ssl.truststore.location (the CAs of client certificates)")
	}
	return cfg, nil
}
