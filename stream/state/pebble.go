package state

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Pebble is a store on disk in a Pebble LSM. Writes are not synced: a
// store is rebuilt from its changelog topic when its task starts, so the
// disk copy only needs to hold state larger than memory.
type Pebble struct {
	db  *pebble.DB
	buf []byte
}

// OpenPebble opens (creating if needed) a Pebble store in dir.
func OpenPebble(dir string) (*Pebble, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
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
