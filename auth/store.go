package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"sync"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// CredentialsFile is the file, in the security directory, that holds the
// SCRAM credentials.
const CredentialsFile = "scram-credentials.json"

// ErrNoSuchUser is returned when deleting a credential that does not exist.
var ErrNoSuchUser = errors.New("no such user or mechanism")

// Store keeps every user's SCRAM credentials, one per mechanism, in memory
// and in CredentialsFile (replaced atomically on every change). It is safe
// for concurrent use.
type Store struct {
	fs  vfs.FS
	dir string

	// mu guards users and serializes writes of the file.
	mu    sync.RWMutex
	users map[string]map[string]ScramCredential // user -> mechanism -> credential
}

type storeFile struct {
	Users map[string][]ScramCredential `json:"users"`
}

// OpenStore loads the credentials kept in dir (none if the file does not
// exist yet).
func OpenStore(fs vfs.FS, dir string) (*Store, error) {
	s := &Store{fs: fs, dir: dir, users: map[string]map[string]ScramCredential{}}
	raw, err := fs.ReadFile(path.Join(dir, CredentialsFile))
	if vfs.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f storeFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path.Join(dir, CredentialsFile), err)
	}
	for user, creds := range f.Users {
		for _, c := range creds {
			if _, err := hashFor(c.Mechanism); err != nil {
				return nil, fmt.Errorf("%s: user %q: %w", CredentialsFile, user, err)
			}
			if s.users[user] == nil {
				s.users[user] = map[string]ScramCredential{}
			}
			s.users[user][c.Mechanism] = c
		}
	}
	return s, nil
}

// Lookup returns user's credential for mechanism.
func (s *Store) Lookup(user, mechanism string) (ScramCredential, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.users[user][mechanism]
	return c, ok
}

// Upsert sets user's credential for c.Mechanism and persists the store.
func (s *Store) Upsert(user string, c ScramCredential) error {
	if user == "" {
		return errors.New("empty user name")
	}
	if _, err := hashFor(c.Mechanism); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.users[user][c.Mechanism]
	if s.users[user] == nil {
		s.users[user] = map[string]ScramCredential{}
	}
	s.users[user][c.Mechanism] = c
	if err := s.persistLocked(); err != nil {
		if had {
			s.users[user][c.Mechanism] = old
		} else {
			s.dropLocked(user, c.Mechanism)
		}
		return err
	}
	return nil
}

// Delete removes user's credential for mechanism ("" removes all of the
// user's credentials) and persists the store.
func (s *Store) Delete(user, mechanism string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.users[user]
	if len(before) == 0 || (mechanism != "" && before[mechanism].Mechanism == "") {
		return ErrNoSuchUser
	}
	after := map[string]ScramCredential{}
	for m, c := range before {
		if mechanism != "" && m != mechanism {
			after[m] = c
		}
	}
	s.users[user] = after
	if len(after) == 0 {
		delete(s.users, user)
	}
	if err := s.persistLocked(); err != nil {
		s.users[user] = before
		return err
	}
	return nil
}

// UserInfo describes one user's credentials without their secrets.
type UserInfo struct {
	Name       string
	Mechanisms []MechanismInfo
}

// MechanismInfo is one credential of a user: its mechanism and iterations.
type MechanismInfo struct {
	Mechanism  string
	Iterations int
}

// Users lists every user with credentials, sorted by name.
func (s *Store) Users() []UserInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]UserInfo, 0, len(s.users))
	for name, creds := range s.users {
		u := UserInfo{Name: name}
		for _, m := range ScramMechanisms {
			if c, ok := creds[m]; ok {
				u.Mechanisms = append(u.Mechanisms, MechanismInfo{m, c.Iterations})
			}
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Store) dropLocked(user, mechanism string) {
	delete(s.users[user], mechanism)
	if len(s.users[user]) == 0 {
		delete(s.users, user)
	}
}

func (s *Store) persistLocked() error {
	f := storeFile{Users: map[string][]ScramCredential{}}
	for user, creds := range s.users {
		for _, m := range ScramMechanisms {
			if c, ok := creds[m]; ok {
				f.Users[user] = append(f.Users[user], c)
			}
		}
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := vfs.MkdirPrivate(s.fs, s.dir); err != nil {
		return err
	}
	return vfs.WriteFileAtomic(s.fs, s.dir, CredentialsFile, raw)
}
