package stream

import (
	"fmt"
	"testing"

	"github.com/eddy-streaming/eddy/stream/serde"
)

// TestGetAll: a window's values come from the cache when it holds the key
// (the newest value, or a deletion) and otherwise from one scan of the
// backing store; keys of other windows are not reported.
func TestGetAll(t *testing.T) {
	for _, caching := range []bool{true, false} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			tk := &task{env: &env{appID: "app", caching: caching, out: &discard{}}}
			spec := &storeSpec{name: "s", inMemory: true, changelog: topicRef{name: "s-changelog", internal: true}}
			s, err := newRawStore(tk, spec, serde.Int64)
			if err != nil {
				t.Fatal(err)
			}
			key := func(start int64, k string) string { return string(appendTime(nil, start)) + k }
			var keys []string
			for i := range 6 {
				keys = append(keys, key(10, fmt.Sprint("k", i)))
				if err := s.put([]byte(keys[i]), int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			other := key(11, "k0") // the next window
			if err := s.put([]byte(other), 100); err != nil {
				t.Fatal(err)
			}
			if err := s.flush(); err != nil {
				t.Fatal(err)
			}
			if caching {
				// k0..k2 only in the backing store; k3 updated in the
				// cache, k4 deleted there, k5 cached as written.
				for _, k := range keys[:3] {
					delete(s.cache, k)
				}
			}
			if err := s.put([]byte(keys[3]), 33); err != nil {
				t.Fatal(err)
			}
			if err := s.del([]byte(keys[4])); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			found, err := s.getAll(keys, appendTime(nil, 10), appendTime(nil, 11), func(k []byte, v int64) {
				if _, dup := got[string(k)]; dup {
					t.Errorf("key %q reported twice", k[8:])
				}
				got[string(k[8:])] = v
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{"k0": 0, "k1": 1, "k2": 2, "k3": 33, "k5": 5}
			if fmt.Sprint(got) != fmt.Sprint(want) || found != len(want) {
				t.Fatalf("got %v (found %d), want %v", got, found, want)
			}
		})
	}
}
