package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

// SASL mechanism names, as Kafka spells them.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ScramMechanisms are the SCRAM mechanisms credentials can be stored for,
// strongest first.
var ScramMechanisms = []string{ScramSHA512, ScramSHA256}

// Iteration bounds for SCRAM credentials, as Kafka enforces them.
const (
	MinIterations     = 4096
	MaxIterations     = 16384
	DefaultIterations = 8192
)

// ErrUnknownMechanism is returned for a mechanism that is not one of
// ScramMechanisms (or Plain, where a session is asked for).
var ErrUnknownMechanism = errors.New("unsupported SASL mechanism")

// ScramCredential is what the broker keeps for one user and one SCRAM
// mechanism (RFC 5802): enough to verify a client's proof and to prove
// itself, never the password or the salted password.
type ScramCredential struct {
	Mechanism  string `json:"mechanism"`
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

func hashFor(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case ScramSHA256:
		return sha256.New, nil
	case ScramSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w %q (want %s or %s)", ErrUnknownMechanism, mechanism, ScramSHA256, ScramSHA512)
}

// CheckIterations reports whether n is an acceptable iteration count.
func CheckIterations(n int) error {
	if n < MinIterations || n > MaxIterations {
		return fmt.Errorf("iterations %d outside [%d, %d]", n, MinIterations, MaxIterations)
	}
	return nil
}

// NewScramCredential derives the credential for password with a fresh
// random salt. As in Kafka, the password's UTF-8 bytes are used as they
// are (no SASLprep).
func NewScramCredential(mechanism, password string, iterations int) (ScramCredential, error) {
	salt := make([]byte, 32)
	rand.Read(salt)
	salted, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return CredentialFromSaltedPassword(mechanism, salt, iterations, salted)
}

// SaltPassword computes Hi(password, salt, iterations) of RFC 5802.
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h, err := hashFor(mechanism)
	if err != nil {
		return nil, err
	}
	if err := CheckIterations(iterations); err != nil {
		return nil, err
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// CredentialFromSaltedPassword derives the stored and server keys from a
// salted password, which is what AlterUserScramCredentials carries.
func CredentialFromSaltedPassword(mechanism string, salt []byte, iterations int, salted []byte) (ScramCredential, error) {
	h, err := hashFor(mechanism)
	if err != nil {
		return ScramCredential{}, err
	}
	if err := CheckIterations(iterations); err != nil {
		return ScramCredential{}, err
	}
	if len(salt) == 0 || len(salted) == 0 {
		return ScramCredential{}, errors.New("empty salt or salted password")
	}
	clientKey := mac(h, salted, "Client Key")
	stored := h()
	stored.Write(clientKey)
	return ScramCredential{
		Mechanism:  mechanism,
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  mac(h, salted, "Server Key"),
	}, nil
}

// VerifyPassword reports whether password is the one c was derived from
// (how PLAIN checks a password against SCRAM credentials). It takes
// constant time in the compared keys.
func (c ScramCredential) VerifyPassword(password string) bool {
	salted, err := SaltPassword(c.Mechanism, password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	d, err := CredentialFromSaltedPassword(c.Mechanism, c.Salt, c.Iterations, salted)
	return err == nil && hmac.Equal(d.StoredKey, c.StoredKey)
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
