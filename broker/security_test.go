package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streaming/eddy/auth"
	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// counterValue reads a counter without labels from a registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// secureClient connects to s's SASL_SSL listener as user with mech.
func secureClient(t *testing.T, s *testbroker.Secure, mech sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{
		kgo.SeedBrokers(s.Addr),
		kgo.DialTLSConfig(s.Certs.ClientTLS()),
		kgo.SASL(mech),
		kgo.RequestRetries(0),
		kgo.RetryTimeout(0),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func scram512(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// adminClient is the super user's admin client.
func adminClient(t *testing.T, s *testbroker.Secure) *kadm.Client {
	return kadm.NewClient(secureClient(t, s, scram512(s.AdminUser, s.AdminPass)))
}

func createUser(t *testing.T, adm *kadm.Client, user, pass string) {
	t.Helper()
	res, err := adm.AlterUserSCRAMs(testCtx(t), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: pass},
		{User: user, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pass},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("creating %s: %v", user, r.Err)
		}
	}
}

func grant(t *testing.T, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(testCtx(t), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("creating ACL: %v", r.Err)
		}
	}
}

// TestSCRAMOverTLSWithACLs: a user authenticates with SCRAM-SHA-512 over
// TLS; a wrong password is refused; without ACLs the user can neither
// produce nor consume nor see the topic; each grant makes exactly the same
// call succeed.
func TestSCRAMOverTLSWithACLs(t *testing.T) {
	s := testbroker.StartSecure(t)
	ctx := testCtx(t)
	adm := adminClient(t, s)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secret"); err != nil {
		t.Fatal(err)
	}
	admin := secureClient(t, s, scram512(s.AdminUser, s.AdminPass))
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	createUser(t, adm, "alice", "alice-secret")

	// A wrong password: SASL_AUTHENTICATION_FAILED, counted.
	before := s.SecurityStats().AuthenticationFailures
	bad := secureClient(t, s, scram512("alice", "wrong"))
	if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: got %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if got := s.SecurityStats().AuthenticationFailures; got != before+1 {
		t.Fatalf("authentication failures %d, want %d", got, before+1)
	}
	if n := counterValue(t, s.Registry(), "eddy_authentication_failures_total"); n != float64(before+1) {
		t.Fatalf("eddy_authentication_failures_total %v, want %d", n, before+1)
	}

	alice := secureClient(t, s, scram512("alice", "alice-secret"))
	aliceAdm := kadm.NewClient(alice)

	// No ACLs: writing is refused and the topics are hidden.
	err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("a1")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACL: got %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if topics, err := aliceAdm.ListTopics(ctx); err != nil || len(topics) != 0 {
		t.Fatalf("alice lists %v (err %v), want no topic", topics.Names(), err)
	}
	if got := consumeGroup(t, s, "alice", "orders", "g1"); !errors.Is(got.err, kerr.GroupAuthorizationFailed) && !errors.Is(got.err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("consume without ACL: got %v (%d records), want an authorization error", got.err, got.n)
	}

	grant(t, adm, kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpWrite))
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("a1")}).FirstErr(); err != nil {
		t.Fatalf("produce with WRITE: %v", err)
	}

	// READ on the topic but not the group.
	grant(t, adm, kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpRead))
	if got := consumeGroup(t, s, "alice", "orders", "g1"); !errors.Is(got.err, kerr.GroupAuthorizationFailed) || got.n != 0 {
		t.Fatalf("consume without group ACL: got %v and %d records, want GROUP_AUTHORIZATION_FAILED and none", got.err, got.n)
	}
	grant(t, adm, kadm.NewACLs().Allow("User:alice").Groups("g1").Operations(kadm.OpRead))
	if got := consumeGroup(t, s, "alice", "orders", "g1"); got.err != nil || got.n != 2 {
		t.Fatalf("consume with ACLs: got %v and %d records, want 2", got.err, got.n)
	}
	topics, err := aliceAdm.ListTopics(ctx)
	if err != nil || !slices.Equal(topics.Names(), []string{"orders"}) {
		t.Fatalf("alice lists %v (err %v), want [orders] only", topics.Names(), err)
	}

	// A prefixed deny wins over the literal allow.
	grant(t, adm, kadm.NewACLs().Deny("User:alice").Topics("ord").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite))
	err = alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("a2")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce under a prefixed deny: got %v", err)
	}

	// PLAIN and SCRAM-SHA-256 check the same credentials.
	if err := secureClient(t, s, plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()).Ping(ctx); err != nil {
		t.Fatalf("PLAIN: %v", err)
	}
	if err := secureClient(t, s, plain.Auth{User: "alice", Pass: "nope"}.AsMechanism()).Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("PLAIN wrong password: %v", err)
	}
	if err := secureClient(t, s, scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()).Ping(ctx); err != nil {
		t.Fatalf("SCRAM-SHA-256: %v", err)
	}
	if err := secureClient(t, s, scram512("nobody", "x")).Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("unknown user: %v", err)
	}
}

type consumed struct {
	n   int
	err error
}

// consumeGroup reads topic in group as user until it has the records
// produced so far, or an error.
func consumeGroup(t *testing.T, s *testbroker.Secure, user, topic, group string) consumed {
	t.Helper()
	cl := secureClient(t, s, scram512(user, user+"-secret"),
		kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(testCtx(t), 15e9)
	defer cancel()
	var out consumed
	for out.n < 2 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			out.err = ctx.Err()
			return out
		}
		for _, e := range fs.Errors() {
			out.err = e.Err
			return out
		}
		out.n += fs.NumRecords()
	}
	return out
}

// TestOnlySASLBeforeAuthentication: on a SASL listener, anything but
// ApiVersions and the SASL APIs closes the connection.
func TestOnlySASLBeforeAuthentication(t *testing.T) {
	s := testbroker.StartSecure(t)
	nc, err := tls.Dial("tcp", s.Addr, s.Certs.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	c := &rawConn{t: t, nc: nc}
	t.Cleanup(func() { nc.Close() })
	c.write(encodeRequest(kmsg.NewPtrApiVersionsRequest(), 3, 1))
	if _, _, err := c.read(); err != nil {
		t.Fatalf("ApiVersions before authentication: %v", err)
	}
	c.write(encodeRequest(kmsg.NewPtrMetadataRequest(), 9, 2))
	c.expectClosed()
}

// TestSSLClientCertificates: an SSL listener with ssl.client.auth=required
// refuses clients without a certificate signed by its CA, and takes the
// principal from the certificate's subject (User:CN=carol), which ACLs
// then name.
func TestSSLClientCertificates(t *testing.T) {
	certs := testbroker.NewCerts(t)
	tlsCfg, err := broker.ServerTLS(broker.TLSFiles{Cert: certs.CertFile, Key: certs.KeyFile, CA: certs.CAFile, ClientAuth: "required"})
	if err != nil {
		t.Fatal(err)
	}
	b := testbroker.Start(t,
		broker.WithListener(broker.Listener{Name: "SSL", Addr: "127.0.0.1:0", Protocol: broker.ProtocolSSL, TLS: tlsCfg}),
		broker.WithAuthorizer(auth.AuthorizerConfig{SuperUsers: []string{"User:CN=admin"}}))
	addr := b.ListenerAddr("SSL")
	ctx := testCtx(t)
	client := func(cn string) *kgo.Client {
		cfg := certs.ClientTLS()
		if cn != "" {
			certFile, keyFile := certs.Issue(t, cn, pkix.Name{CommonName: cn}, x509.ExtKeyUsageClientAuth)
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(cfg), kgo.RequestRetries(0), kgo.RetryTimeout(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client("").Ping(pingCtx); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	adm := kadm.NewClient(client("admin"))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "certs"); err != nil {
		t.Fatal(err)
	}
	carol := client("carol")
	if err := carol.ProduceSync(ctx, &kgo.Record{Topic: "certs", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("carol without ACL: %v", err)
	}
	grant(t, adm, kadm.NewACLs().Allow("User:CN=carol").Topics("certs").Operations(kadm.OpWrite))
	if err := carol.ProduceSync(ctx, &kgo.Record{Topic: "certs", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("carol with ACL: %v", err)
	}
}
