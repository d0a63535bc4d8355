package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestGatewayRequiresAuthentication: with security on, the HTTP gateway
// is served over TLS, every request but the health probes needs a broker
// user's password, and each route the ACL Kafka would ask for.
func TestGatewayRequiresAuthentication(t *testing.T) {
	s := testbroker.StartSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var url string
	if err := serveHTTP(ctx, s.Broker, s.DataDir, "127.0.0.1:0", slog.New(slog.DiscardHandler), func(u string) { url = u }); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("gateway served on %s, want https", url)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.DialTLSConfig(s.Certs.ClientTLS()),
		kgo.SASL(scram.Auth{User: s.AdminUser, Pass: s.AdminPass}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "web"); err != nil {
		t.Fatal(err)
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "web", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-pw"}}); err != nil {
		t.Fatal(err)
	}

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.Certs.ClientTLS()}, Timeout: 30 * time.Second}
	get := func(path, user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	expect := func(path, user, pass string, want int) string {
		t.Helper()
		code, body := get(path, user, pass)
		if code != want {
			t.Fatalf("GET %s as %q: %d %s, want %d", path, user, code, body, want)
		}
		return body
	}
	const read = "/api/v1/topics/web/records?partition=0&offset=0"
	expect("/healthz", "", "", http.StatusOK)
	expect(read, "", "", http.StatusUnauthorized)
	failures := s.SecurityStats().AuthenticationFailures
	expect(read, "carol", "wrong", http.StatusUnauthorized)
	if s.SecurityStats().AuthenticationFailures != failures+1 {
		t.Fatal("the failed HTTP authentication was not counted")
	}
	if body := expect(read, s.AdminUser, s.AdminPass, http.StatusOK); !strings.Contains(body, "aGVsbG8") && !strings.Contains(body, "hello") {
		t.Fatalf("admin read: %s", body)
	}
	expect(read, "carol", "carol-pw", http.StatusForbidden)
	expect("/api/v1/topics", "carol", "carol-pw", http.StatusForbidden)
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:carol").Topics("web").Operations(kadm.OpRead)); err != nil {
		t.Fatal(err)
	}
	expect(read, "carol", "carol-pw", http.StatusOK)
	expect("/api/v1/groups/any", "carol", "carol-pw", http.StatusForbidden)
}
