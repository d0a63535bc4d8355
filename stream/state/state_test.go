package state_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/eddy-streaming/eddy/stream/state"
)

// Every store must behave like a sorted map: the same random operations
// run against each implementation and a reference map.
func TestStoresAgainstReference(t *testing.T) {
	stores := map[string]func(t *testing.T) state.Store{
		"memory": func(*testing.T) state.Store { return state.NewMemory() },
		"pebble": func(t *testing.T) state.Store {
			p, err := state.OpenPebble(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			ref := map[string]string{}
			rng := rand.New(rand.NewPCG(7, 9))
			for i := 0; i < 3000; i++ {
				k := fmt.Sprintf("k%03d", rng.IntN(300))
				switch rng.IntN(5) {
				case 4:
					// A batch of updates, applied by Commit.
					b := s.Batch()
					for j := rng.IntN(20); j >= 0; j-- {
						k := fmt.Sprintf("k%03d", rng.IntN(300))
						if rng.IntN(3) == 0 {
							if err := b.Delete([]byte(k)); err != nil {
								t.Fatal(err)
							}
							delete(ref, k)
							continue
						}
						v := fmt.Sprint(i, ".", j)
						if err := b.Set([]byte(k), []byte(v)); err != nil {
							t.Fatal(err)
						}
						ref[k] = v
					}
					if err := b.Commit(); err != nil {
						t.Fatal(err)
					}
				case 0:
					if err := s.Delete([]byte(k)); err != nil {
						t.Fatal(err)
					}
					delete(ref, k)
				case 1:
					v, ok, err := s.Get([]byte(k))
					rv, rok := ref[k]
					if err != nil || ok != rok || string(v) != rv {
						t.Fatalf("get %s = %q %v %v, want %q %v", k, v, ok, err, rv, rok)
					}
				default:
					v := fmt.Sprint(i)
					if err := s.Set([]byte(k), []byte(v)); err != nil {
						t.Fatal(err)
					}
					ref[k] = v
				}
			}
			var want []string
			for k, v := range ref {
				if k >= "k100" && k < "k200" {
					want = append(want, k+"="+v)
				}
			}
			sort.Strings(want)
			var got []string
			if err := s.Range([]byte("k100"), []byte("k200"), func(k, v []byte) bool {
				got = append(got, string(k)+"="+string(v))
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("range:\n got %v\nwant %v", got, want)
			}
			// Keys starting with 0xff (escaped in Pebble) and the empty
			// key keep their place in the order.
			for _, k := range []string{"", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff", "\xfe\xff", "\xff\x01a"} {
				if err := s.Set([]byte(k), []byte("v"+k)); err != nil {
					t.Fatal(err)
				}
				ref[k] = "v" + k
			}
			keys := make([]string, 0, len(ref))
			for k := range ref {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			want = want[:0]
			for _, k := range keys {
				want = append(want, k+"="+ref[k])
			}
			got = got[:0]
			if err := s.Range(nil, nil, func(k, v []byte) bool {
				got = append(got, string(k)+"="+string(v))
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Fatalf("full range:\n got %q\nwant %q", got, want)
			}
			got = got[:0]
			s.Range([]byte("\xff"), []byte("\xff\xff\xff"), func(k, v []byte) bool {
				got = append(got, string(k))
				return true
			})
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", []string{"\xff", "\xff\x00", "\xff\x01a", "\xff\xff"}) {
				t.Fatalf("range over 0xff keys: %q", got)
			}
			for _, k := range []string{"\xff\xff", ""} {
				if v, ok, err := s.Get([]byte(k)); err != nil || !ok || string(v) != "v"+k {
					t.Fatalf("get %q = %q %v %v", k, v, ok, err)
				}
			}
			n := 0
			s.Range(nil, nil, func(k, v []byte) bool { n++; return n < 5 })
			if n != min(5, len(ref)) {
				t.Fatalf("early stop: %d", n)
			}
		})
	}
}
