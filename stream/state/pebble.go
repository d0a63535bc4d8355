package state

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// Pebble is a store on disk in a Pebble LSM. The store's changelog topic
// is the source of truth; with a checkpoint (SetCheckpoint) the content
// that survives a restart is reused and only the changelog after the
// checkpoint is restored.
//
// The store has no write-ahead log (Kafka Streams disables RocksDB's too):
// writes live in memtables until Pebble flushes them to its tables, which
// it does in order, so after a crash the store holds a prefix of its
// writes: everything up to some point, nothing after it. Close flushes
// the memtables; Abandon, as a crash, does not.
//
// Besides the user's keys the database holds one metadata key, the
// checkpoint. User keys are stored as they are, except those starting
// with 0xff, stored as 0xff 0x00 and the rest of the key: that keeps
// their order, and leaves keys starting 0xff 0x01..0xff to metadata
// (the checkpoint is 0xff 0xff), which Get and Range never see.
type Pebble struct {
	dir  string
	db   *pebble.DB
	buf  []byte // Get's value
	kbuf []byte // an encoded key
	hbuf []byte // Range's encoded upper bound
	dbuf []byte // a decoded key in Range
}

var checkpointKey = []byte{0xff, 0xff}

// blockCacheSize bounds each store's block cache. Pebble charges its
// memtables (up to two of 4 MiB) to the cache: its default of 8 MiB left no
// room for a single block, so every lookup read the table blocks it needed
// from the file. Memory is taken as blocks are cached, not up front.
const blockCacheSize = 40 << 20

// OpenPebble opens (creating if needed) a Pebble store in dir.
//
// Every level has Bloom filters (10 bits per key, as Kafka Streams'
// RocksDB tables): a lookup of a key the store does not hold, as a window
// aggregation does for each new key, skips the tables without reading
// them.
func OpenPebble(dir string) (*Pebble, error) {
	p := &Pebble{dir: dir}
	if err := p.open(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pebble) open() error {
	cache := pebble.NewCache(blockCacheSize)
	defer cache.Unref() // the DB holds its own reference
	opts := &pebble.Options{Logger: quietLogger{}, DisableWAL: true, Cache: cache, Levels: make([]pebble.LevelOptions, 7)}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(p.dir, opts)
	if err != nil {
		return fmt.Errorf("state: opening pebble store in %s: %w", p.dir, err)
	}
	p.db = db
	return nil
}

// encodeInto returns key as stored: key itself, or its escaped form
// written into *buf.
func encodeInto(buf *[]byte, key []byte) []byte {
	if len(key) == 0 || key[0] != 0xff {
		return key
	}
	*buf = append(append((*buf)[:0], 0xff, 0x00), key[1:]...)
	return *buf
}

// Get implements Store.
func (p *Pebble) Get(key []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(encodeInto(&p.kbuf, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p.buf = append(p.buf[:0], v...)
	closer.Close()
	return p.buf, true, nil
}

// Set implements Store.
func (p *Pebble) Set(key, value []byte) error {
	return p.db.Set(encodeInto(&p.kbuf, key), value, pebble.NoSync)
}

// Delete implements Store.
func (p *Pebble) Delete(key []byte) error {
	return p.db.Delete(encodeInto(&p.kbuf, key), pebble.NoSync)
}

// Batch implements Store: one Pebble batch.
func (p *Pebble) Batch() Batch { return pebbleBatch{p, p.db.NewBatch()} }

// pebbleBatch encodes keys in its store's buffer: the batch copies them.
type pebbleBatch struct {
	p *Pebble
	b *pebble.Batch
}

func (b pebbleBatch) Set(key, value []byte) error {
	return b.b.Set(encodeInto(&b.p.kbuf, key), value, nil)
}

func (b pebbleBatch) Delete(key []byte) error { return b.b.Delete(encodeInto(&b.p.kbuf, key), nil) }

func (b pebbleBatch) Commit() error {
	err := b.b.Commit(pebble.NoSync)
	return errors.Join(err, b.b.Close())
}

// Range implements Store.
func (p *Pebble) Range(start, end []byte, fn func(key, value []byte) bool) error {
	lo := encodeInto(&p.kbuf, start)
	hi := checkpointKey // user keys are below it
	if end != nil {
		hi = encodeInto(&p.hbuf, end)
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) > 0 && k[0] == 0xff {
			p.dbuf = append(append(p.dbuf[:0], 0xff), k[2:]...)
			k = p.dbuf
		}
		if !fn(k, it.Value()) {
			break
		}
	}
	return it.Close()
}

// Checkpoint returns the store's checkpoint; ok is false if it has none.
// A checkpoint that cannot be decoded is an error wrapping
// ErrBadCheckpoint.
func (p *Pebble) Checkpoint() (c Checkpoint, ok bool, err error) {
	v, closer, err := p.db.Get(checkpointKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	defer closer.Close()
	c, err = ParseCheckpoint(v)
	return c, err == nil, err
}

// SetCheckpoint records c, in order with the writes: what survives a
// crash (a prefix of the writes) holds c only with every write before it,
// and any write after c only with c.
func (p *Pebble) SetCheckpoint(c Checkpoint) error {
	return p.db.Set(checkpointKey, c.AppendTo(nil), pebble.NoSync)
}

// Clear empties the store, checkpoint included: the directory is removed
// and the store opened again in it. If it fails the store is left closed.
func (p *Pebble) Clear() error {
	err := p.db.Close()
	p.db = nil
	if err != nil {
		return fmt.Errorf("state: closing pebble store in %s: %w", p.dir, err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	return p.open()
}

// Empty reports whether the store holds nothing, not even a checkpoint.
func (p *Pebble) Empty() (bool, error) {
	it, err := p.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// Close implements Store: the memtables are flushed, so the files hold
// every write.
func (p *Pebble) Close() error {
	if p.db == nil {
		return nil // a failed Clear closed it
	}
	return errors.Join(p.db.Flush(), p.db.Close())
}

// Flush writes the memtables to the store's files: a crash after it
// loses none of the writes before it.
func (p *Pebble) Flush() error { return p.db.Flush() }

// Abandon closes the store as a crash would: the writes Pebble has not
// flushed from its memtables are lost.
func (p *Pebble) Abandon() error {
	if p.db == nil {
		return nil
	}
	return p.db.Close()
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}
