package state_test

import (
	"errors"
	"testing"

	"github.com/eddy-streaming/eddy/stream/state"
)

func TestCheckpointEncoding(t *testing.T) {
	c := state.Checkpoint{TopicID: [16]byte{1, 2, 3, 15: 9}, Partition: 7, Offset: 123456789, Exact: true}
	b := c.AppendTo(nil)
	got, err := state.ParseCheckpoint(b)
	if err != nil || got != c {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, c)
	}
	bad := map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)-1],
		"longer":    append(append([]byte(nil), b...), 0),
		"version":   append([]byte{2}, b[1:]...),
	}
	for i := range b {
		flipped := append([]byte(nil), b...)
		flipped[i] ^= 0x10
		bad["flipped byte "+string(rune('a'+i))] = flipped
	}
	for name, b := range bad {
		if _, err := state.ParseCheckpoint(b); !errors.Is(err, state.ErrBadCheckpoint) {
			t.Errorf("%s: %v, want ErrBadCheckpoint", name, err)
		}
	}
}

// A Pebble store keeps its checkpoint across a reopen, out of sight of
// Get and Range, and after a crash with the writes before it; Clear
// removes data and checkpoint.
func TestPebbleCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p, err := state.OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.Checkpoint(); ok || err != nil {
		t.Fatalf("new store: checkpoint %v %v", ok, err)
	}
	if empty, err := p.Empty(); !empty || err != nil {
		t.Fatalf("new store: empty %v %v", empty, err)
	}
	for _, k := range []string{"a", "\xff", "\xff\xff"} {
		if err := p.Set([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	c := state.Checkpoint{Partition: 3, Offset: 42, Exact: true}
	if err := p.SetCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err = state.OpenPebble(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { p.Close() }()
	if got, ok, err := p.Checkpoint(); !ok || err != nil || got != c {
		t.Fatalf("reopened: checkpoint %+v %v %v, want %+v", got, ok, err, c)
	}
	n := 0
	p.Range(nil, nil, func(k, v []byte) bool { n++; return true })
	if n != 3 {
		t.Fatalf("range sees %d keys, want the 3 written", n)
	}

	// A crash (Abandon) loses what the memtables held: the later writes
	// and the later checkpoint together.
	if err := p.Set([]byte("later"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetCheckpoint(state.Checkpoint{Partition: 3, Offset: 50, Exact: true}); err != nil {
		t.Fatal(err)
	}
	if err := p.Abandon(); err != nil {
		t.Fatal(err)
	}
	if p, err = state.OpenPebble(dir); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := p.Checkpoint(); !ok || err != nil || got != c {
		t.Fatalf("after a crash: checkpoint %+v %v %v, want %+v", got, ok, err, c)
	}
	if _, ok, _ := p.Get([]byte("later")); ok {
		t.Fatal("after a crash: holds a write made after the checkpoint that survived")
	}
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.Checkpoint(); ok || err != nil {
		t.Fatalf("cleared: checkpoint %v %v", ok, err)
	}
	if empty, err := p.Empty(); !empty || err != nil {
		t.Fatalf("cleared: empty %v %v", empty, err)
	}
	if err := p.Set([]byte("b"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p.Get([]byte("a")); ok {
		t.Fatal("cleared store still holds a")
	}
}
