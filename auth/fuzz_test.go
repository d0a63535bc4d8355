package auth

import (
	"bytes"
	"testing"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// FuzzSASLSession feeds arbitrary client messages to every mechanism's
// server session: it must never panic, never authenticate SCRAM without
// a valid proof, and authenticate PLAIN only for the right password.
//
//	go test ./auth -run '^$' -fuzz FuzzSASLSession -fuzztime 1m
func FuzzSASLSession(f *testing.F) {
	st, err := OpenStore(vfs.NewMem(), "sec")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range ScramMechanisms {
		c, _ := NewScramCredential(m, "pw", MinIterations)
		st.Upsert("alice", c)
	}
	seeds := [][2]string{
		{"\x00alice\x00pw", ""},
		{"\x00alice\x00wrong", ""},
		{"n,,n=alice,r=abcdefgh", "c=biws,r=abcdefgh,p=AAAA"},
		{"n,,n=alice,r=abc", "c=biws,r=WRONG,p=AAAA"},
		{"y,,n=alice,r=abc", ""},
		{"n,a=bob,n=alice,r=abc", ""},
		{"n,,m=ext,n=alice,r=abc", ""},
		{"n,,n=al=2Cice,r=abc", "garbage"},
		{"n,,n=,r=", "c=,r=,p="},
		{"p=tls-unique,,n=alice,r=x", ""},
		{"", ""},
		{"\xff\xfe\x00\x00", "\x00"},
	}
	for _, s := range seeds {
		for mech := range 3 {
			f.Add(uint8(mech), []byte(s[0]), []byte(s[1]))
		}
	}
	f.Fuzz(func(t *testing.T, mech uint8, first, second []byte) {
		name := SupportedMechanisms[int(mech)%len(SupportedMechanisms)]
		s, err := NewSession(name, st)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Step(first)
		if err != nil {
			if s.Authenticated() {
				t.Fatal("authenticated after an error")
			}
			if _, err := s.Step(second); err == nil && s.Authenticated() {
				t.Fatal("a failed session accepted another message and authenticated")
			}
			return
		}
		if name == Plain {
			want := bytes.HasSuffix(first, []byte("\x00alice\x00pw")) && bytes.Count(first, []byte{0}) == 2
			if s.Authenticated() != want {
				t.Fatalf("PLAIN %q: authenticated %v", first, s.Authenticated())
			}
			return
		}
		if s.Authenticated() || len(out) == 0 {
			t.Fatalf("SCRAM first step %q: authenticated %v, answer %q", first, s.Authenticated(), out)
		}
		if _, err := s.Step(second); err == nil || s.Authenticated() {
			t.Fatalf("SCRAM authenticated (or accepted) a client-final %q that cannot hold a valid proof", second)
		}
	})
}
