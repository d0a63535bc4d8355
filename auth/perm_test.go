package auth

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// The salted credentials and the ACLs live in a directory only the broker's
// user can enter, even when it existed before with looser permissions.
func TestSecretsDirectoryIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "security")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(vfs.OS(), dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewScramCredential(ScramMechanisms[0], "pw", MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert("alice", c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Fatalf("%s has mode %o, want 700", dir, perm)
	}
	if _, err := os.Stat(filepath.Join(dir, CredentialsFile)); err != nil {
		t.Fatal(err)
	}
}
