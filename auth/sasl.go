package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
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

// scramSession is RFC 5802 through xdg-go/scram: client-first →
// server-first (nonce, salt, iterations), client-final (proof) →
// server-final (verifier). An unknown user gets a made-up but stable
// salt and fails at the proof, like a wrong password, so the exchange does
// not tell who exists.
type scramSession struct {
	conv *scram.ServerConversation
	user string
	step int
}

// unknownUserKey derives the stable fake salts of unknown users.
var unknownUserKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

func newScramSession(mechanism string, creds CredentialSource) *scramSession {
	lookup := func(user string) (scram.StoredCredentials, error) {
		c, ok := creds.Lookup(user, mechanism)
		if !ok {
			m := hmac.New(sha256.New, unknownUserKey)
			m.Write([]byte(user))
			c = ScramCredential{Salt: m.Sum(nil), Iterations: DefaultIterations}
			c.StoredKey = make([]byte, 64)
			c.ServerKey = make([]byte, 64)
			rand.Read(c.StoredKey) // never matches a proof
		}
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
	return &scramSession{conv: srv.NewConversation()}
}

func (s *scramSession) Step(in []byte) ([]byte, error) {
	s.step++
	if s.step > 2 || s.conv.Done() {
		return nil, fmt.Errorf("%w: SCRAM exchange already complete", ErrMalformed)
	}
	if len(in) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(in))
	}
	out, err := s.libraryStep(in)
	if err != nil {
		switch {
		case strings.HasPrefix(out, "e=invalid-proof"):
			return nil, ErrAuthenticationFailed
		case errors.Is(err, ErrMalformed):
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s.step == 1 {
		if a := s.conv.AuthzID(); a != "" && a != s.conv.Username() {
			return nil, fmt.Errorf("%w: authorization id %q differs from user %q", ErrAuthenticationFailed, a, s.conv.Username())
		}
		if s.conv.Username() == "" {
			return nil, fmt.Errorf("%w: empty user name", ErrMalformed)
		}
	}
	if s.conv.Valid() {
		s.user = s.conv.Username()
	}
	return []byte(out), nil
}

// libraryStep runs xdg-go/scram's step, turning its parse panics into
// ErrMalformed: v1.1.2 indexes an empty GS2 flag (client-first ",,,"),
// found by FuzzSASLSession. The empty flag is refused before the call;
// recover covers whatever else a hostile client may find.
func (s *scramSession) libraryStep(in []byte) (out string, err error) {
	if s.step == 1 && (len(in) == 0 || in[0] == ',') {
		return "", fmt.Errorf("%w: client-first message without a GS2 flag", ErrMalformed)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	return s.conv.Step(string(in))
}

func (s *scramSession) Authenticated() bool { return s.user != "" }
func (s *scramSession) User() string        { return s.user }
