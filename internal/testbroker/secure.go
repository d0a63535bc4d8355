package testbroker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/auth"
	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Certs are a test CA and a server certificate it signed for 127.0.0.1
// and localhost, as PEM files.
type Certs struct {
	CAFile   string // the CA certificate
	CertFile string // the server certificate chain
	KeyFile  string // the server's private key
	Pool     *x509.CertPool
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	dir      string
}

// NewCerts generates a CA and a server certificate in a temporary
// directory.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Eddy test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	c := &Certs{CAFile: filepath.Join(dir, "ca.pem"), ca: ca, caKey: caKey, dir: dir, Pool: x509.NewCertPool()}
	c.Pool.AddCert(ca)
	writePEM(t, c.CAFile, "CERTIFICATE", caDER)
	c.CertFile, c.KeyFile = c.Issue(t, "server", pkix.Name{CommonName: "localhost"}, x509.ExtKeyUsageServerAuth)
	return c
}

// Issue signs a new certificate for subject (server or client usage) and
// returns its certificate and key files.
func (c *Certs) Issue(t testing.TB, name string, subject pkix.Name, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(c.dir, name+".pem"), filepath.Join(c.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// ClientTLS is a client configuration trusting the CA.
func (c *Certs) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
}

func writePEM(t testing.TB, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Secure is a broker with a SASL_SSL listener (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512), the ACL authorizer on, and the super user "admin".
type Secure struct {
	*broker.Broker
	Certs     *Certs
	Addr      string // the SASL_SSL listener
	DataDir   string
	AdminUser string
	AdminPass string
}

// SecureListener is the name of Secure's SASL_SSL listener.
const SecureListener = "SASL_SSL"

// StartSecure starts a Secure broker. The admin's SCRAM credentials are
// written to the data directory before the broker starts, as
// `eddy user create --data-dir` does.
func StartSecure(t testing.TB, opts ...broker.Option) *Secure {
	t.Helper()
	s := &Secure{Certs: NewCerts(t), DataDir: t.TempDir(), AdminUser: "admin", AdminPass: "admin-secret"}
	AddUser(t, s.DataDir, s.AdminUser, s.AdminPass)
	tlsCfg, err := broker.ServerTLS(broker.TLSFiles{Cert: s.Certs.CertFile, Key: s.Certs.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	all := append([]broker.Option{
		broker.WithDataDir(s.DataDir),
		broker.WithListener(broker.Listener{Name: SecureListener, Addr: "127.0.0.1:0", Protocol: broker.ProtocolSASLSSL, TLS: tlsCfg,
			Mechanisms: []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512}}),
		broker.WithAuthorizer(auth.AuthorizerConfig{SuperUsers: []string{"User:" + s.AdminUser}}),
	}, opts...)
	s.Broker = Start(t, all...)
	s.Addr = s.ListenerAddr(SecureListener)
	return s
}

// AddUser stores SCRAM-SHA-256 and SCRAM-SHA-512 credentials for user in
// dataDir (the broker must not be running on it).
func AddUser(t testing.TB, dataDir, user, password string) {
	t.Helper()
	st, err := auth.OpenStore(vfs.OS(), filepath.Join(dataDir, broker.SecurityDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range auth.ScramMechanisms {
		c, err := auth.NewScramCredential(m, password, auth.MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Upsert(user, c); err != nil {
			t.Fatal(err)
		}
	}
}
