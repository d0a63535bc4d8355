package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestUserAndACLCommands drives eddy user and eddy acl against a broker
// with a SASL_SSL listener and the authorizer on, as the super user, then
// checks the new user can do exactly what its ACLs allow.
func TestUserAndACLCommands(t *testing.T) {
	s := testbroker.StartSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(user, pass string) func(stdin string, args ...string) result {
		return func(stdin string, args ...string) result {
			args = append(args, "--tls-ca", s.Certs.CAFile, "--sasl-user", user, "--sasl-password", pass)
			return eddy(ctx, []string{s.Addr}, stdin, args...)
		}
	}
	admin := as(s.AdminUser, s.AdminPass)
	must := func(r result) string {
		t.Helper()
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.stderr)
		}
		return r.stdout
	}

	must(admin("bob-secret\n", "user", "create", "bob", "--password-stdin"))
	if out := must(admin("", "user", "list")); !strings.Contains(out, "bob") || !strings.Contains(out, "SCRAM-SHA-512 (8192 iterations)") {
		t.Fatalf("user list:\n%s", out)
	}
	must(admin("", "topic", "create", "ledger"))
	bob := as("bob", "bob-secret")
	if r := bob("x\n", "produce", "ledger"); r.err == nil || !strings.Contains(r.err.Error()+r.stderr, "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("produce without ACL: %v %s", r.err, r.stderr)
	}
	must(admin("", "acl", "add", "--allow", "User:bob", "--operation", "write,describe", "--topic", "ledger"))
	if out := must(admin("", "acl", "list", "--allow", "User:bob")); !strings.Contains(out, "write") || !strings.Contains(out, "ledger") {
		t.Fatalf("acl list:\n%s", out)
	}
	must(bob("x\n", "produce", "ledger"))
	if out := must(admin("", "acl", "remove", "--topic", "ledger", "--operation", "write")); !strings.Contains(out, "1 ACL(s) removed") {
		t.Fatalf("acl remove:\n%s", out)
	}
	if r := bob("y\n", "produce", "ledger"); r.err == nil {
		t.Fatal("produce after the ACL was removed succeeded")
	}
	if r := as("bob", "wrong")("", "topic", "list"); r.err == nil || !strings.Contains(r.err.Error()+r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("wrong password: %v %s", r.err, r.stderr)
	}
	must(admin("", "user", "delete", "bob"))
	if out := must(admin("", "user", "list")); strings.Contains(out, "bob") {
		t.Fatalf("bob still listed:\n%s", out)
	}

	// Offline, in a stopped broker's data directory.
	dir := t.TempDir()
	must(eddy(ctx, nil, "root-pw\n", "user", "create", "root", "--data-dir", dir, "--mechanism", "SCRAM-SHA-256"))
	if out := must(eddy(ctx, nil, "", "user", "list", "--data-dir", dir)); !strings.Contains(out, "root") || strings.Contains(out, "SCRAM-SHA-512") {
		t.Fatalf("offline user list:\n%s", out)
	}
}
