package state

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// Pebble is a store on disk in a Pebble LSM. Writes are not synced: a
// store is rebuilt from its changelog topic when its task starts, so the
// disk copy only needs to hold state larger than memory.
type Pebble struct {
	db  *pebble.DB
	buf []byte
}

// blockCacheSize bounds each store's block cache. Pebble charges its
// memtables (up to two of 4 MiB) to the cache: its default of 8 MiB left no
// room for a single block, so every lookup read the table blocks it needed
// from the file. Memory is taken as blocks are cached, not up front.
const blockCacheSize = 40 << 20

// OpenPebble opens (creating if needed) a Pebble store in dir.
//
// The store has no write-ahead log: its changelog topic is the source of
// truth, and the stream library empties the directory before opening it,
// so a log would only cost (Kafka Streams disables RocksDB's for the same
// reason). Every level has Bloom filters (10 bits per key, as Kafka
// Streams' RocksDB tables): a lookup of a key the store does not hold, as
// a window aggregation does for each new key, skips the tables without
// reading them.
func OpenPebble(dir string) (*Pebble, error) {
	cache := pebble.NewCache(blockCacheSize)
	defer cache.Unref() // the DB holds its own reference
	opts := &pebble.Options{Logger: quietLogger{}, DisableWAL: true, Cache: cache, Levels: make([]pebble.LevelOptions, 7)}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("state: opening pebble store in %s: %w", dir, err)
	}
	return &Pebble{db: db}, nil
}

// Get implements Store.
func (p *Pebble) Get(key []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(key)
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
func (p *Pebble) Set(key, value []byte) error { return p.db.Set(key, value, pebble.NoSync) }

// Delete implements Store.
func (p *Pebble) Delete(key []byte) error { return p.db.Delete(key, pebble.NoSync) }

// Batch implements Store: one Pebble batch.
func (p *Pebble) Batch() Batch { return pebbleBatch{p.db.NewBatch()} }

type pebbleBatch struct{ b *pebble.Batch }

func (b pebbleBatch) Set(key, value []byte) error { return b.b.Set(key, value, nil) }
func (b pebbleBatch) Delete(key []byte) error     { return b.b.Delete(key, nil) }

func (b pebbleBatch) Commit() error {
	err := b.b.Commit(pebble.NoSync)
	return errors.Join(err, b.b.Close())
}

// Range implements Store.
func (p *Pebble) Range(start, end []byte, fn func(key, value []byte) bool) error {
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Close()
}

// Close implements Store.
func (p *Pebble) Close() error { return p.db.Close() }

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}
