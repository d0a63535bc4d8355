package state

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble"
)

// TestPebbleCachesBlocks: once the memtables have grown to their full
// size, reading the same keys twice from the tables is served by the block
// cache the second time (with Pebble's default 8 MiB cache, all of it
// charged to the memtables, no block was ever cached), and lookups of
// absent keys are answered by the Bloom filters of the tables above the
// last level.
func TestPebbleCachesBlocks(t *testing.T) {
	p, err := OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 20000
	key := func(i int) []byte { return binary.BigEndian.AppendUint64([]byte("k"), uint64(i)) }
	// Memtables start small and double at each rotation up to their full
	// size, and Pebble keeps the last one for reuse: write enough for
	// that, as a long run does, then move everything into the last level
	// so that no compaction runs below.
	val := make([]byte, 64)
	for i := range 15 * n {
		if err := p.Set(key(2*i), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.db.Compact(key(0), key(30*n), false); err != nil {
		t.Fatal(err)
	}
	read := func() {
		for i := range n {
			if _, ok, err := p.Get(key(2 * i)); !ok || err != nil {
				t.Fatalf("key %d: ok %v, err %v", 2*i, ok, err)
			}
		}
	}
	read()
	before := p.db.Metrics()
	read()
	after := p.db.Metrics()
	if misses := after.BlockCache.Misses - before.BlockCache.Misses; misses != 0 {
		t.Errorf("second read of %d keys: %d block cache misses (cache %+v)", n, misses, after.BlockCache)
	}
	if hits := after.BlockCache.Hits - before.BlockCache.Hits; hits < n {
		t.Errorf("second read of %d keys: %d block cache hits", n, hits)
	}

	write := func() {
		for i := range n {
			if err := p.Set(key(2*i), []byte("new value")); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	write() // one table above the last level
	before = p.db.Metrics()
	for i := range n {
		if _, ok, err := p.Get(key(2*i + 1)); ok || err != nil {
			t.Fatalf("absent key %d: ok %v, err %v", 2*i+1, ok, err)
		}
	}
	if hits := p.db.Metrics().Filter.Hits - before.Filter.Hits; hits < n/2 {
		t.Errorf("%d lookups of absent keys: Bloom filters excluded a table %d times", n, hits)
	}
}

// A checkpoint record that does not decode is reported as such (the
// runtime then restores the store in full).
func TestPebbleCorruptCheckpoint(t *testing.T) {
	p, err := OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good := Checkpoint{Offset: 5}.AppendTo(nil)
	if err := p.db.Set(checkpointKey, good[:len(good)-2], pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.Checkpoint(); ok || !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("truncated checkpoint: ok %v, err %v", ok, err)
	}
}
