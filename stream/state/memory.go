package state

import (
	"bytes"
	"math/rand/v2"
)

// Memory is an in-memory ordered store: a skip list.
type Memory struct {
	head   *mnode
	level  int
	n      int
	rng    *rand.Rand
	update [maxLevel]*mnode
	closed bool
}

const maxLevel = 24

type mnode struct {
	key, value []byte
	next       []*mnode
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{head: &mnode{next: make([]*mnode, maxLevel)}, level: 1, rng: rand.New(rand.NewPCG(1, 2))}
}

// Len returns the number of keys.
func (m *Memory) Len() int { return m.n }

// seek returns the first node with key >= key, filling m.update with the
// last node before it on every level.
func (m *Memory) seek(key []byte) *mnode {
	x := m.head
	for i := m.level - 1; i >= 0; i-- {
		for x.next[i] != nil && bytes.Compare(x.next[i].key, key) < 0 {
			x = x.next[i]
		}
		m.update[i] = x
	}
	return x.next[0]
}

// Get implements Store.
func (m *Memory) Get(key []byte) ([]byte, bool, error) {
	if m.closed {
		return nil, false, ErrClosed
	}
	x := m.seek(key)
	if x != nil && bytes.Equal(x.key, key) {
		return x.value, true, nil
	}
	return nil, false, nil
}

// Set implements Store.
func (m *Memory) Set(key, value []byte) error {
	if m.closed {
		return ErrClosed
	}
	x := m.seek(key)
	if x != nil && bytes.Equal(x.key, key) {
		x.value = append(x.value[:0:0], value...)
		return nil
	}
	lvl := 1
	for lvl < maxLevel && m.rng.Uint32()&3 == 0 {
		lvl++
	}
	if lvl > m.level {
		for i := m.level; i < lvl; i++ {
			m.update[i] = m.head
		}
		m.level = lvl
	}
	nn := &mnode{key: append([]byte(nil), key...), value: append([]byte(nil), value...), next: make([]*mnode, lvl)}
	for i := 0; i < lvl; i++ {
		nn.next[i] = m.update[i].next[i]
		m.update[i].next[i] = nn
	}
	m.n++
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(key []byte) error {
	if m.closed {
		return ErrClosed
	}
	x := m.seek(key)
	if x == nil || !bytes.Equal(x.key, key) {
		return nil
	}
	for i := 0; i < len(x.next); i++ {
		if m.update[i].next[i] == x {
			m.update[i].next[i] = x.next[i]
		}
	}
	for m.level > 1 && m.head.next[m.level-1] == nil {
		m.level--
	}
	m.n--
	return nil
}

// Range implements Store.
func (m *Memory) Range(start, end []byte, fn func(key, value []byte) bool) error {
	if m.closed {
		return ErrClosed
	}
	for x := m.seek(start); x != nil; x = x.next[0] {
		if end != nil && bytes.Compare(x.key, end) >= 0 {
			return nil
		}
		if !fn(x.key, x.value) {
			return nil
		}
	}
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.closed = true
	m.head = &mnode{next: make([]*mnode, maxLevel)}
	return nil
}

// Batch implements Store: the updates apply at once, Commit has nothing
// left to do.
func (m *Memory) Batch() Batch { return memBatch{m} }

type memBatch struct{ *Memory }

func (b memBatch) Commit() error {
	if b.closed {
		return ErrClosed
	}
	return nil
}
