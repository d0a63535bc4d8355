package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// PasswordEnv gives the SASL password when --sasl-password is not set (so
// it does not show in the process list).
const PasswordEnv = "EDDY_SASL_PASSWORD"

// clientSecurity is how the client commands connect: TLS and SASL.
type clientSecurity struct {
	tls       bool
	tlsCA     string
	tlsCert   string
	tlsKey    string
	mechanism string
	user      string
	password  string
}

func (s *clientSecurity) addFlags(pf *pflag.FlagSet) {
	pf.BoolVar(&s.tls, "tls", false, "connect with TLS (implied by --tls-ca and --tls-cert)")
	pf.StringVar(&s.tlsCA, "tls-ca", "", "PEM file of the CAs that verify the broker (default: the system's)")
	pf.StringVar(&s.tlsCert, "tls-cert", "", "PEM client certificate (SSL listeners with ssl.client.auth)")
	pf.StringVar(&s.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	pf.StringVar(&s.mechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default SCRAM-SHA-512 when --sasl-user is set)")
	pf.StringVar(&s.user, "sasl-user", "", "SASL user name")
	pf.StringVar(&s.password, "sasl-password", "", "SASL password (env "+PasswordEnv+" when not given)")
}

// opts returns the franz-go options for TLS and SASL.
func (s *clientSecurity) opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tls || s.tlsCA != "" || s.tlsCert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.tlsCA != "" {
			pem, err := os.ReadFile(s.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s", s.tlsCA)
			}
		}
		if s.tlsCert != "" {
			key := s.tlsKey
			if key == "" {
				key = s.tlsCert
			}
			cert, err := tls.LoadX509KeyPair(s.tlsCert, key)
			if err != nil {
				return nil, fmt.Errorf("--tls-cert: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if s.user == "" {
		if s.mechanism != "" {
			return nil, errors.New("--sasl-mechanism needs --sasl-user")
		}
		return opts, nil
	}
	password := s.password
	if password == "" {
		password = os.Getenv(PasswordEnv)
	}
	switch strings.ToUpper(s.mechanism) {
	case "", "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: password}.AsSha512Mechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: password}.AsSha256Mechanism()))
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.user, Pass: password}.AsMechanism()))
	default:
		return nil, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mechanism)
	}
	return opts, nil
}
