// Package state holds the byte-level state stores behind the stream
// library's typed stores: an in-memory ordered store and a Pebble store.
// Both keep keys in bytewise order so window stores can scan time ranges.
package state

import "errors"

// Store is an ordered key-value store of byte strings. It is used by one
// task (one goroutine) at a time.
type Store interface {
	// Get returns the value for key, or ok=false. The value is only valid
	// until the next call on the store.
	Get(key []byte) (value []byte, ok bool, err error)
	// Set stores value under key; both are copied.
	Set(key, value []byte) error
	// Delete removes key (not an error if absent).
	Delete(key []byte) error
	// Range calls fn for each key in [start, end) in order until fn
	// returns false. A nil end means no upper bound. Keys and values are
	// only valid during the call; fn must not modify the store.
	Range(start, end []byte, fn func(key, value []byte) bool) error
	// Batch starts a batch of updates, which its Commit applies together
	// (for Pebble one write instead of one per update).
	Batch() Batch
	// Close releases the store.
	Close() error
}

// Batch holds updates to a Store that Commit applies in order. Reads of
// the store before Commit may or may not see them. A batch is used once,
// by the goroutine that uses its store; keys and values are copied.
type Batch interface {
	Set(key, value []byte) error
	Delete(key []byte) error
	Commit() error
}

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("state: store closed")
