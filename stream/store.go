package stream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// storeSpec describes a state store of the topology; open creates the
// store for one task.
type storeSpec struct {
	name     string
	inMemory bool
	// changelog is the topic the store's updates are written to and
	// restored from: ${app}-NAME-changelog, or for a global table its
	// source topic.
	changelog topicRef
	global    bool
	open      func(t *task) (storeInstance, error)
}

// storeInstance is a store of one task, seen by the runtime.
type storeInstance interface {
	// flush writes cached updates to the backing store and the changelog.
	flush() error
	// restore applies one changelog record (value nil = deletion).
	restore(key, value []byte) error
	// backing returns the byte store under the instance (for a standby
	// to keep when the task stops running here).
	backing() state.Store
	close() error
}

// KeyValueStore is a typed key-value state store, as seen by processors
// (Processor API) and by the test driver. Keys are ordered by their
// encoded bytes.
type KeyValueStore[K, V any] interface {
	Get(k K) (v V, ok bool, err error)
	Put(k K, v V) error
	Delete(k K) error
	// All calls fn for every entry in key order until fn returns false.
	All(fn func(k K, v V) bool) error
	// Range calls fn for the entries with from <= key < to (by encoded
	// bytes) until fn returns false.
	Range(from, to K, fn func(k K, v V) bool) error
}

// openBacking opens the byte store of spec for partition of task id:
// memory, or Pebble under the state directory. A task's Pebble store keeps
// what it held (see checkpoint.go: the restore decides whether to trust
// it); a global table's starts empty.
func openBacking(e *env, id string, partition int32, spec *storeSpec) (state.Store, error) {
	if spec.inMemory || e.stateDir == "" {
		return state.NewMemory(), nil
	}
	dir := filepath.Join(e.stateDir, e.appID, id, spec.name)
	if spec.global {
		// Loaded from the source topics in full when the app starts.
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := state.OpenPebble(dir)
	if err != nil || spec.global {
		return p, err
	}
	return newCheckpointed(p, partition), nil
}

// maxCacheEntries bounds each store's write cache; when it is full the
// cache is flushed.
const maxCacheEntries = 10000

// rawStore is the store under every operator: byte keys (the operator
// encodes them), typed values, an optional write cache of decoded values
// flushed at commit, and changelog writes.
type rawStore[V any] struct {
	t         *task
	name      string
	vs        serde.Serde[V]
	inner     state.Store
	ckpt      *checkpointed // inner, if it keeps checkpoints
	changelog string        // resolved topic, "" = none
	caching   bool
	cache     map[string]*cacheEntry[V]
	nDirty    int
}

type cacheEntry[V any] struct {
	v     V
	ok    bool // false: deleted or absent
	dirty bool
	// persisted: the backing store (and changelog) may hold the key, so
	// a deletion must be written. Only a lookup that missed, or a written
	// deletion, proves it does not.
	persisted bool
}

func newRawStore[V any](t *task, spec *storeSpec, vs serde.Serde[V]) (*rawStore[V], error) {
	inner := t.warm[spec.name] // a standby's store, promoted with its content
	if inner != nil {
		delete(t.warm, spec.name)
	} else {
		var err error
		if inner, err = openBacking(t.env, t.id, t.partition, spec); err != nil {
			return nil, err
		}
	}
	s := &rawStore[V]{t: t, name: spec.name, vs: vs, inner: inner, caching: t.env.caching}
	s.ckpt, _ = inner.(*checkpointed)
	if !spec.global {
		s.changelog = spec.changelog.resolve(t.env.appID)
	}
	if s.caching {
		s.cache = map[string]*cacheEntry[V]{}
	}
	return s, nil
}

func (s *rawStore[V]) get(key []byte) (V, bool, error) {
	if s.caching {
		if e, ok := s.cache[string(key)]; ok {
			return e.v, e.ok, nil
		}
	}
	var zero V
	b, ok, err := s.inner.Get(key)
	if err != nil {
		return zero, false, err
	}
	if !ok {
		if s.caching {
			if err := s.cacheEntry(key, zero, false, false); err != nil {
				return zero, false, err
			}
			s.cache[string(key)].persisted = false
		}
		return zero, false, nil
	}
	v, err := s.vs.Decode(b)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: decoding value: %w", s.name, err)
	}
	if s.caching {
		s.cacheEntry(key, v, true, false)
	}
	return v, true, nil
}

func (s *rawStore[V]) cacheEntry(key []byte, v V, ok, dirty bool) error {
	if e, found := s.cache[string(key)]; found {
		if dirty && !e.dirty {
			s.nDirty++
		}
		e.v, e.ok, e.dirty = v, ok, e.dirty || dirty
		return nil
	}
	if len(s.cache) >= maxCacheEntries {
		if err := s.flush(); err != nil {
			return err
		}
		clear(s.cache)
	}
	s.cache[string(key)] = &cacheEntry[V]{v: v, ok: ok, dirty: dirty, persisted: true}
	if dirty {
		s.nDirty++
	}
	return nil
}

func (s *rawStore[V]) put(key []byte, v V) error {
	if s.caching {
		return s.cacheEntry(key, v, true, true)
	}
	return s.write(s.inner, key, v, true)
}

func (s *rawStore[V]) del(key []byte) error {
	if s.caching {
		if e, ok := s.cache[string(key)]; ok && !e.persisted {
			// Never written out: forgetting it is enough.
			if e.dirty {
				s.nDirty--
			}
			delete(s.cache, string(key))
			return nil
		}
		var zero V
		return s.cacheEntry(key, zero, false, true)
	}
	var zero V
	return s.write(s.inner, key, zero, false)
}

// writer is a backing store or a batch of its updates.
type writer interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// write applies one update to w (the backing store or a batch of it) and
// the changelog.
func (s *rawStore[V]) write(w writer, key []byte, v V, ok bool) error {
	if s.ckpt != nil && !s.ckpt.dirty {
		// Before the batch commits: the checkpoint says inexact first.
		if err := s.ckpt.written(); err != nil {
			return err
		}
	}
	var vb []byte
	if ok {
		var err error
		if vb, err = s.vs.Encode(nil, v); err != nil {
			return fmt.Errorf("store %s: encoding value: %w", s.name, err)
		}
		if err := w.Set(key, vb); err != nil {
			return err
		}
	} else if err := w.Delete(key); err != nil {
		return err
	}
	s.t.uncommitted = true
	if s.changelog != "" {
		r := &kgo.Record{Topic: s.changelog, Partition: s.t.partition, Key: append([]byte(nil), key...), Value: vb}
		if s.ckpt != nil {
			r.Context = s.ckpt.ack // the promise records its offset
		}
		s.t.send(r)
	}
	return nil
}

// flush implements storeInstance: the dirty entries go to the backing
// store in one batch.
func (s *rawStore[V]) flush() error {
	if s.nDirty == 0 {
		return nil
	}
	b := s.inner.Batch()
	for k, e := range s.cache {
		if e.dirty {
			if err := s.write(b, []byte(k), e.v, e.ok); err != nil {
				return err
			}
			e.dirty, e.persisted = false, e.ok
		}
	}
	s.nDirty = 0
	return b.Commit()
}

// getAll calls fn with the value of each of keys that the store holds,
// all of them in [start, end): from the cache, and for the keys it does
// not hold, from one scan of the range instead of a lookup each (in key
// order, after the cached ones). It returns how many keys it found. fn
// must not use the store.
func (s *rawStore[V]) getAll(keys []string, start, end []byte, fn func(key []byte, v V)) (int, error) {
	found, missing := 0, 0
	for _, k := range keys {
		e, cached := s.cache[k]
		switch {
		case !cached:
			missing++
		case e.ok:
			found++
			fn([]byte(k), e.v)
		}
	}
	if missing == 0 {
		return found, nil
	}
	var derr error
	err := s.inner.Range(start, end, func(k, vb []byte) bool {
		if _, cached := s.cache[string(k)]; cached {
			return true // seen above, or deleted
		}
		v, err := s.vs.Decode(vb)
		if err != nil {
			derr = fmt.Errorf("store %s: decoding value: %w", s.name, err)
			return false
		}
		found++
		fn(k, v)
		return true
	})
	return found, errors.Join(err, derr)
}

// rangeRaw calls fn for the entries with keys in [start, end) in order.
func (s *rawStore[V]) rangeRaw(start, end []byte, fn func(key []byte, v V) bool) error {
	if err := s.flush(); err != nil {
		return err
	}
	var derr error
	err := s.inner.Range(start, end, func(k, vb []byte) bool {
		v, err := s.vs.Decode(vb)
		if err != nil {
			derr = fmt.Errorf("store %s: decoding value: %w", s.name, err)
			return false
		}
		return fn(k, v)
	})
	if err != nil {
		return err
	}
	return derr
}

// restore implements storeInstance.
func (s *rawStore[V]) restore(key, value []byte) error {
	if value == nil {
		return s.inner.Delete(key)
	}
	return s.inner.Set(key, value)
}

func (s *rawStore[V]) backing() state.Store { return s.inner }

func (s *rawStore[V]) close() error { return s.inner.Close() }

// kvStore is the typed key-value store used by tables, aggregations and
// processors.
type kvStore[K, V any] struct {
	*rawStore[V]
	ks  serde.Serde[K]
	buf []byte
}

func (s *kvStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.ks.Encode(s.buf[:0], k)
	if err != nil {
		return nil, fmt.Errorf("store %s: encoding key: %w", s.name, err)
	}
	s.buf = b
	return b, nil
}

func (s *kvStore[K, V]) Get(k K) (V, bool, error) {
	kb, err := s.key(k)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return s.get(kb)
}

func (s *kvStore[K, V]) Put(k K, v V) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	return s.put(kb, v)
}

func (s *kvStore[K, V]) Delete(k K) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	return s.del(kb)
}

func (s *kvStore[K, V]) All(fn func(K, V) bool) error {
	return s.rangeTyped(nil, nil, fn)
}

func (s *kvStore[K, V]) Range(from, to K, fn func(K, V) bool) error {
	a, err := s.ks.Encode(nil, from)
	if err != nil {
		return err
	}
	b, err := s.ks.Encode(nil, to)
	if err != nil {
		return err
	}
	return s.rangeTyped(a, b, fn)
}

func (s *kvStore[K, V]) rangeTyped(start, end []byte, fn func(K, V) bool) error {
	var kerr error
	err := s.rangeRaw(start, end, func(kb []byte, v V) bool {
		k, err := s.ks.Decode(kb)
		if err != nil {
			kerr = err
			return false
		}
		return fn(k, v)
	})
	if err != nil {
		return err
	}
	return kerr
}

// addKVStore registers a key-value store spec with the builder.
func addKVStore[K, V any](b *Builder, name string, ks serde.Serde[K], vs serde.Serde[V], inMemory bool) *storeSpec {
	if _, dup := b.stores[name]; dup {
		b.fail(fmt.Errorf("stream: store %q defined twice", name))
	}
	spec := &storeSpec{name: name, inMemory: inMemory, changelog: topicRef{name: name + "-changelog", internal: true}}
	spec.open = func(t *task) (storeInstance, error) {
		raw, err := newRawStore(t, spec, vs)
		if err != nil {
			return nil, err
		}
		return &kvStore[K, V]{rawStore: raw, ks: ks}, nil
	}
	b.stores[name] = spec
	return spec
}

// taskStore returns the store named name of task t with its concrete
// type.
func taskStore[S any](t *task, name string) S {
	st := t.stores[name]
	if st == nil && t.env.global != nil {
		st = t.env.global.stores[name]
	}
	s, ok := st.(S)
	if !ok {
		panic(fmt.Sprintf("stream: store %q of task %s has type %T", name, t.id, st))
	}
	return s
}
