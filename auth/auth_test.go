package auth

import (
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

func testStore(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := OpenStore(fs, "sec")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ScramMechanisms {
		c, err := NewScramCredential(m, "pw", MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Upsert("alice", c); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// runScram drives a server session with xdg-go's client, as a Kafka
// client would.
func runScram(t *testing.T, mech string, creds CredentialSource, user, pass string) (Session, error) {
	t.Helper()
	gen := scram.SHA256
	if mech == ScramSHA512 {
		gen = scram.SHA512
	}
	cl, err := gen.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	s, err := NewSession(mech, creds)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := conv.Step("")
	for !s.Authenticated() {
		out, err := s.Step([]byte(msg))
		if err != nil {
			return s, err
		}
		if msg, err = conv.Step(string(out)); err != nil {
			t.Fatalf("client refused the server's message %q: %v", out, err)
		}
	}
	if !conv.Valid() {
		t.Fatal("client did not verify the server's signature")
	}
	return s, nil
}

func TestScramSessions(t *testing.T) {
	st := testStore(t, vfs.NewMem())
	for _, mech := range ScramMechanisms {
		t.Run(mech, func(t *testing.T) {
			s, err := runScram(t, mech, st, "alice", "pw")
			if err != nil || s.User() != "alice" {
				t.Fatalf("right password: user %q, err %v", s.User(), err)
			}
			if _, err := runScram(t, mech, st, "alice", "wrong"); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("wrong password: %v", err)
			}
			// An unknown user gets through the first step like a known one
			// and fails at the proof.
			if _, err := runScram(t, mech, st, "mallory", "pw"); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("unknown user: %v", err)
			}
			s, _ = NewSession(mech, st)
			if _, err := s.Step([]byte("garbage")); !errors.Is(err, ErrMalformed) {
				t.Fatalf("garbage: %v", err)
			}
		})
	}
}

func TestPlainSession(t *testing.T) {
	st := testStore(t, vfs.NewMem())
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"\x00alice\x00pw", nil},
		{"alice\x00alice\x00pw", nil},
		{"\x00alice\x00nope", ErrAuthenticationFailed},
		{"\x00bob\x00pw", ErrAuthenticationFailed},
		{"bob\x00alice\x00pw", ErrAuthenticationFailed},
		{"alice\x00pw", ErrMalformed},
		{"\x00\x00pw", ErrMalformed},
		{"", ErrMalformed},
	} {
		s, _ := NewSession(Plain, st)
		_, err := s.Step([]byte(tc.in))
		if !errors.Is(err, tc.want) || (err == nil) != s.Authenticated() {
			t.Errorf("PLAIN %q: err %v, authenticated %v; want %v", tc.in, err, s.Authenticated(), tc.want)
		}
		if _, err := s.Step([]byte(tc.in)); err == nil {
			t.Errorf("PLAIN %q: a second message was accepted", tc.in)
		}
	}
}

func TestStorePersists(t *testing.T) {
	fs := vfs.NewMem()
	testStore(t, fs)
	s, err := OpenStore(fs, "sec")
	if err != nil {
		t.Fatal(err)
	}
	if u := s.Users(); len(u) != 1 || u[0].Name != "alice" || len(u[0].Mechanisms) != 2 {
		t.Fatalf("reopened store has %+v", u)
	}
	if err := s.Delete("alice", ScramSHA256); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("alice", ScramSHA256); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("deleting twice: %v", err)
	}
	s, _ = OpenStore(fs, "sec")
	if _, ok := s.Lookup("alice", ScramSHA256); ok {
		t.Fatal("deleted credential came back")
	}
	if c, ok := s.Lookup("alice", ScramSHA512); !ok || !c.VerifyPassword("pw") || c.VerifyPassword("pw2") {
		t.Fatal("SCRAM-SHA-512 credential lost or wrong")
	}
	// A failed write changes nothing.
	efs := vfs.NewErrorFS(fs, vfs.WithSticky())
	s2, err := OpenStore(efs, "sec")
	if err != nil {
		t.Fatal(err)
	}
	efs.FailAfter(0)
	c, _ := NewScramCredential(ScramSHA256, "x", MinIterations)
	if err := s2.Upsert("bob", c); err == nil {
		t.Fatal("upsert on a failing filesystem succeeded")
	}
	if _, ok := s2.Lookup("bob", ScramSHA256); ok {
		t.Fatal("a credential that was not persisted is in use")
	}
}

func acl(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) ACL {
	return ACL{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

const (
	topic   = kmsg.ACLResourceTypeTopic
	group   = kmsg.ACLResourceTypeGroup
	literal = kmsg.ACLResourcePatternTypeLiteral
	prefix  = kmsg.ACLResourcePatternTypePrefixed
	allow   = kmsg.ACLPermissionTypeAllow
	deny    = kmsg.ACLPermissionTypeDeny
)

func TestAuthorizer(t *testing.T) {
	fs := vfs.NewMem()
	a, err := OpenAuthorizer(fs, "sec", AuthorizerConfig{SuperUsers: []string{"User:root"}})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := a.Create([]ACL{
		acl(topic, "orders", literal, "User:alice", kmsg.ACLOperationRead, allow),
		acl(topic, "pay.", prefix, "User:alice", kmsg.ACLOperationWrite, allow),
		acl(topic, "pay.secret", literal, "User:alice", kmsg.ACLOperationAll, deny),
		acl(topic, "*", literal, "User:*", kmsg.ACLOperationDescribe, allow),
		acl(group, "g", prefix, "User:bob", kmsg.ACLOperationAll, allow),
		{ResourceType: topic, ResourceName: "ip", PatternType: literal, Principal: "User:alice", Host: "10.0.0.1", Operation: kmsg.ACLOperationRead, Permission: allow},
		acl(topic, "x", prefix, "alice", kmsg.ACLOperationRead, allow), // invalid principal
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[6] == nil || errs[0] != nil {
		t.Fatalf("validation errors %v", errs)
	}
	check := func(a *Authorizer) {
		t.Helper()
		for _, tc := range []struct {
			principal, host string
			op              kmsg.ACLOperation
			rt              kmsg.ACLResourceType
			name            string
			want            bool
		}{
			{"User:alice", "127.0.0.1", kmsg.ACLOperationRead, topic, "orders", true},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationWrite, topic, "orders", false},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationDescribe, topic, "orders", true}, // implied by READ and by the wildcard
			{"User:alice", "127.0.0.1", kmsg.ACLOperationWrite, topic, "pay.in", true},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationWrite, topic, "pay", false},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationWrite, topic, "pay.secret", false}, // deny wins
			{"User:alice", "127.0.0.1", kmsg.ACLOperationDescribe, topic, "pay.secret", false},
			{"User:carol", "127.0.0.1", kmsg.ACLOperationDescribe, topic, "anything", true},
			{"User:carol", "127.0.0.1", kmsg.ACLOperationRead, topic, "anything", false},
			{"User:bob", "127.0.0.1", kmsg.ACLOperationRead, group, "g1", true},
			{"User:bob", "127.0.0.1", kmsg.ACLOperationDelete, group, "other", false},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationRead, group, "g1", false},
			{"User:alice", "10.0.0.1", kmsg.ACLOperationRead, topic, "ip", true},
			{"User:alice", "10.0.0.2", kmsg.ACLOperationRead, topic, "ip", false},
			{"User:root", "127.0.0.1", kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterName, true},
			{"User:alice", "127.0.0.1", kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterName, false},
		} {
			if got := a.Authorize(tc.principal, tc.host, tc.op, tc.rt, tc.name); got != tc.want {
				t.Errorf("%s@%s %s %s:%s = %v, want %v", tc.principal, tc.host, tc.op, tc.rt, tc.name, got, tc.want)
			}
		}
		if !a.AllowedAny("User:alice", "127.0.0.1", kmsg.ACLOperationWrite, topic) || a.AllowedAny("User:carol", "127.0.0.1", kmsg.ACLOperationWrite, topic) {
			t.Error("AllowedAny(WRITE, topic) wrong")
		}
	}
	check(a)
	// The ACLs survive a restart.
	b, err := OpenAuthorizer(fs, "sec", AuthorizerConfig{SuperUsers: []string{"User:root"}})
	if err != nil {
		t.Fatal(err)
	}
	check(b)

	name := "pay.secret"
	if got := b.Describe(Filter{PatternType: kmsg.ACLResourcePatternTypeMatch, ResourceName: &name, ResourceType: topic}); len(got) != 3 {
		t.Fatalf("MATCH pay.secret found %d ACLs, want 3 (prefix, literal, wildcard): %v", len(got), got)
	}
	alice := "User:alice"
	removed, err := b.Delete([]Filter{{Principal: &alice, ResourceType: topic}})
	if err != nil || len(removed[0]) != 4 {
		t.Fatalf("deleted %v (err %v), want alice's 4 topic ACLs", removed, err)
	}
	if b.Authorize("User:alice", "127.0.0.1", kmsg.ACLOperationRead, topic, "orders") {
		t.Fatal("deleted ACL still grants")
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle()
	th.Now = func() time.Time { return now }
	var got []time.Duration
	for range 8 {
		got = append(got, th.Failed("h"))
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	if d := th.Failed("other"); d != 100*time.Millisecond {
		t.Fatalf("another host starts at %v", d)
	}
	th.Succeeded("h")
	if d := th.Failed("h"); d != 100*time.Millisecond {
		t.Fatalf("after a success: %v", d)
	}
	now = now.Add(time.Hour)
	if d := th.Failed("other"); d != 100*time.Millisecond {
		t.Fatalf("after the forget period: %v", d)
	}
	th.MaxHosts = 2
	th.Failed("a")
	th.Failed("b")
	if len(th.hosts) > 2 {
		t.Fatalf("%d hosts kept, bound is 2", len(th.hosts))
	}
}

// TestScramLibrdkafkaNonce: librdkafka puts its client nonce again in
// front of the combined nonce in client-final; Kafka accepts a nonce that
// ends with the server's, and so does Eddy, with the proof computed over
// the message as sent.
func TestScramLibrdkafkaNonce(t *testing.T) {
	st := testStore(t, vfs.NewMem())
	for _, pass := range []string{"pw", "wrong"} {
		s, _ := NewSession(ScramSHA512, st)
		cnonce := "client-nonce"
		c1bare := "n=alice,r=" + cnonce
		s1, err := s.Step([]byte("n,," + c1bare))
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Split(string(s1), ",")
		nonce, salt64, iters := fields[0][2:], fields[1][2:], fields[2][2:]
		salt, _ := base64.StdEncoding.DecodeString(salt64)
		n, _ := strconv.Atoi(iters)
		salted, _ := SaltPassword(ScramSHA512, pass, salt, n)
		c2wop := "c=biws,r=" + cnonce + nonce // librdkafka's doubled client nonce
		auth := c1bare + "," + string(s1) + "," + c2wop
		clientKey := mac(sha512.New, salted, "Client Key")
		storedKey := sha512.Sum512(clientKey)
		sig := mac(sha512.New, storedKey[:], auth)
		proof := make([]byte, len(sig))
		for i := range sig {
			proof[i] = clientKey[i] ^ sig[i]
		}
		out, err := s.Step([]byte(c2wop + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if pass == "wrong" {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("wrong password: %v", err)
			}
			continue
		}
		want := "v=" + base64.StdEncoding.EncodeToString(mac(sha512.New, mac(sha512.New, salted, "Server Key"), auth))
		if err != nil || string(out) != want || !s.Authenticated() {
			t.Fatalf("librdkafka-style exchange: %q %v", out, err)
		}
	}
	// A nonce that does not end with the server's is refused.
	s, _ := NewSession(ScramSHA512, st)
	s.Step([]byte("n,,n=alice,r=abc"))
	if _, err := s.Step([]byte("c=biws,r=abcX,p=" + base64.StdEncoding.EncodeToString(make([]byte, 64)))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("foreign nonce: %v", err)
	}
}
