package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/xdg-go/scram"
)

// Errors of a SASL exchange. Both end the exchange; the broker answers
// SASL_AUTHENTICATION_FAILED and closes the connection.
var (
	// ErrAuthenticationFailed: well-formed messages, wrong credentials (a
	// wrong password, an unknown user: the two are indistinguishable).
	ErrAuthenticationFailed = errors.New("authentication failed: invalid credentials")
	// ErrMalformed: messages that do not follow the mechanism.
	ErrMalformed = errors.New("malformed SASL message")
)

// MaxMessageBytes bounds one client SASL message; longer ones are
// malformed.
const MaxMessageBytes = 64 << 10

// CredentialSource looks up a user's SCRAM credential (a *Store is one).
type CredentialSource interface {
	Lookup(user, mechanism string) (ScramCredential, bool)
}

// Session is the server side of one SASL exchange, free of I/O: the caller
// passes each client message to Step and sends back what it returns. After
// an error the session is over; after Authenticated it is too.
type Session interface {
	// Step consumes one client message and returns the server's answer.
	Step(in []byte) (out []byte, err error)
	// Authenticated reports whether the exchange ended in success.
	Authenticated() bool
	// User is the authenticated user's name (valid once Authenticated).
	User() string
}

// SupportedMechanisms lists the mechanisms NewSession accepts.
var SupportedMechanisms = []string{Plain, ScramSHA256, ScramSHA512}

// NewSession starts a server-side exchange of mechanism, checking
// credentials against creds.
func NewSession(mechanism string, creds CredentialSource) (Session, error) {
	switch mechanism {
	case Plain:
		return &plainSession{creds: creds}, nil
	case ScramSHA256, ScramSHA512:
		return newScramSession(mechanism, creds), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownMechanism, mechanism)
}

// plainSession is RFC 4616: one message "authzid NUL authcid NUL passwd";
// the password is checked against the user's SCRAM credential (the
// strongest one), so no password is ever stored.
type plainSession struct {
	creds CredentialSource
	done  bool
	user  string
}

func (s *plainSession) Step(in []byte) ([]byte, error) {
	if s.done || s.user != "" {
		return nil, fmt.Errorf("%w: PLAIN exchange already complete", ErrMalformed)
	}
	s.done = true
	if len(in) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(in))
	}
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: PLAIN wants authzid NUL user NUL password", ErrMalformed)
	}
	authzid, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" || password == "" {
		return nil, fmt.Errorf("%w: empty user or password", ErrMalformed)
	}
	if authzid != "" && authzid != user {
		return nil, fmt.Errorf("%w: authorization id %q differs from user %q", ErrAuthenticationFailed, authzid, user)
	}
	var ok bool
	for _, m := range ScramMechanisms {
		if c, found := s.creds.Lookup(user, m); found {
			ok = c.VerifyPassword(password)
			break
		}
	}
	if !ok {
		// Unknown users cost the same as wrong passwords.
		if _, found := s.creds.Lookup(user, ScramSHA512); !found {
			decoy.VerifyPassword(password)
		}
		return nil, ErrAuthenticationFailed
	}
	s.user = user
	return nil, nil
}

func (s *plainSession) Authenticated() bool { return s.user != "" }
func (s *plainSession) User() string        { return s.user }

// decoy is verified against when PLAIN names an unknown user.
var decoy, _ = NewScramCredential(ScramSHA512, "decoy", DefaultIterations)

// scramSession is RFC 5802: client-first → server-first (nonce, salt,
// iterations), client-final (proof) → server-final (verifier).
//
// xdg-go/scram parses the client-first message and builds the
// server-first one. The client-final message is checked here, with
// Kafka's rule for the nonce: it must end with the server-first nonce
// (ScramSaslServer uses endsWith). librdkafka (kcat, confluent-kafka)
// sends its client nonce again in front of the combined nonce, which a
// strict comparison (xdg-go's) refuses. The proof still binds the whole
// exchange: it is computed over the messages as sent.
//
// An unknown user gets a made-up but stable salt and fails at the proof,
// like a wrong password, so the exchange does not tell who exists.
type scramSession struct {
	conv  *scram.ServerConversation
	hash  func() hash.Hash
	cred  ScramCredential // found by the lookup (or made up)
	step  int
	c1b   string // client-first-message-bare
	gs2   string // the client's GS2 header
	s1    string // server-first-message
	nonce string // the combined nonce of s1
	user  string // set once authenticated
}

// unknownUserKey derives the stable fake salts of unknown users.
var unknownUserKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

func newScramSession(mechanism string, creds CredentialSource) *scramSession {
	s := &scramSession{}
	s.hash, _ = hashFor(mechanism)
	lookup := func(user string) (scram.StoredCredentials, error) {
		c, ok := creds.Lookup(user, mechanism)
		if !ok {
			m := hmac.New(sha256.New, unknownUserKey)
			m.Write([]byte(user))
			c = ScramCredential{Salt: m.Sum(nil), Iterations: DefaultIterations}
			c.StoredKey = make([]byte, s.hash().Size())
			c.ServerKey = make([]byte, s.hash().Size())
			rand.Read(c.StoredKey) // never matches a proof
		}
		s.cred = c
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}, nil
	}
	gen := scram.SHA256
	if mechanism == ScramSHA512 {
		gen = scram.SHA512
	}
	srv, _ := gen.NewServer(lookup) // cannot fail: lookup is non-nil
	s.conv = srv.NewConversation()
	return s
}

func (s *scramSession) Step(in []byte) ([]byte, error) {
	s.step++
	if len(in) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(in))
	}
	switch s.step {
	case 1:
		return s.first(string(in))
	case 2:
		return s.final(string(in))
	}
	return nil, fmt.Errorf("%w: SCRAM exchange already complete", ErrMalformed)
}

func (s *scramSession) first(c1 string) ([]byte, error) {
	gs2, rest, ok := cutN(c1, ',', 2)
	if !ok || (gs2[0] != 'n' && gs2[0] != 'y') {
		return nil, fmt.Errorf("%w: client-first message without a GS2 header", ErrMalformed)
	}
	out, err := s.libraryStep(c1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s.conv.Username() == "" {
		return nil, fmt.Errorf("%w: empty user name", ErrMalformed)
	}
	if a := s.conv.AuthzID(); a != "" && a != s.conv.Username() {
		return nil, fmt.Errorf("%w: authorization id %q differs from user %q", ErrAuthenticationFailed, a, s.conv.Username())
	}
	s.gs2, s.c1b, s.s1 = gs2, rest, out
	s.nonce, _, _ = strings.Cut(strings.TrimPrefix(out, "r="), ",")
	return []byte(out), nil
}

// final checks client-final-message = "c=" base64(gs2 header) ",r=" nonce
// [extensions] ",p=" base64(proof).
func (s *scramSession) final(c2 string) ([]byte, error) {
	i := strings.LastIndex(c2, ",p=")
	if i < 0 || !strings.HasPrefix(c2, "c=") {
		return nil, fmt.Errorf("%w: client-final message without channel binding or proof", ErrMalformed)
	}
	withoutProof := c2[:i]
	proof, err := base64.StdEncoding.DecodeString(c2[i+len(",p="):])
	if err != nil || len(proof) != s.hash().Size() {
		return nil, fmt.Errorf("%w: bad proof", ErrMalformed)
	}
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[1], "r=") {
		return nil, fmt.Errorf("%w: client-final message without a nonce", ErrMalformed)
	}
	if cb, err := base64.StdEncoding.DecodeString(fields[0][len("c="):]); err != nil || string(cb) != s.gs2 {
		return nil, fmt.Errorf("%w: channel binding does not match the GS2 header", ErrMalformed)
	}
	if nonce := fields[1][len("r="):]; !strings.HasSuffix(nonce, s.nonce) {
		return nil, fmt.Errorf("%w: nonce does not end with the server's", ErrMalformed)
	}
	authMsg := []byte(s.c1b + "," + s.s1 + "," + withoutProof)
	signature := mac(s.hash, s.cred.StoredKey, string(authMsg))
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ signature[i]
	}
	stored := s.hash()
	stored.Write(clientKey)
	if !hmac.Equal(stored.Sum(nil), s.cred.StoredKey) {
		return nil, ErrAuthenticationFailed
	}
	s.user = s.conv.Username()
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac(s.hash, s.cred.ServerKey, string(authMsg)))), nil
}

// cutN splits s after the n-th sep: the part before it (with the seps
// inside) and the rest.
func cutN(s string, sep byte, n int) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			if n--; n == 0 {
				return s[:i+1], s[i+1:], i > 0
			}
		}
	}
	return "", "", false
}

// libraryStep runs xdg-go/scram's first step, turning its parse panics
// into errors: v1.1.2 indexes an empty GS2 flag (client-first ",,,"),
// found by FuzzSASLSession and refused before the call; recover covers
// whatever else a hostile client may find.
func (s *scramSession) libraryStep(in string) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%v", r)
		}
	}()
	return s.conv.Step(in)
}

func (s *scramSession) Authenticated() bool { return s.user != "" }
func (s *scramSession) User() string        { return s.user }
