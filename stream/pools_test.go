package stream

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// lend does what a sink does: get a record, encode into its buffer (or
// not, with foreign), and mark it lent.
func lend(s *sinkRecords, value string, foreign []byte) *kgo.Record {
	r := s.get()
	buf := r.Value[:0]
	if cap(buf) < 64 {
		buf = make([]byte, 0, 64)
	}
	r.Value = append(buf, value...)
	if foreign != nil {
		r.Value = foreign
	}
	r.Topic, r.Key, r.Partition = "t", []byte("k"), 3
	s.lent(r, buf)
	return r
}

func TestSinkRecordsReuse(t *testing.T) {
	s := newSinkRecords()
	reused := false
	// sync.Pool may drop what it is given (always under the race
	// detector, now and then): try a few times.
	for range 100 {
		r := lend(s, "value", nil)
		buf := r.Value[:1]
		s.put(r)
		got := s.get()
		if got != r {
			continue
		}
		reused = true
		if got.Topic != "" || got.Key != nil || got.Partition != 0 || got.Context != nil || len(got.Value) != 0 {
			t.Fatalf("a reused record is not zero: %+v", got)
		}
		if cap(got.Value) != 64 || &got.Value[:1][0] != &buf[0] {
			t.Fatalf("a reused record lost its buffer (cap %d)", cap(got.Value))
		}
		break
	}
	if !reused {
		t.Fatal("records given back are never lent again")
	}
}

// TestSinkRecordsForeignValue: a value that does not live in the buffer
// the sink gave (a serde that returned memory of its own) is never handed
// out as a buffer, so nothing overwrites it.
func TestSinkRecordsForeignValue(t *testing.T) {
	s := newSinkRecords()
	mine := []byte("the serde's own bytes")
	for range 100 {
		r := lend(s, "", mine)
		if r.Context != s.bare {
			t.Fatalf("record with a foreign value marked %v", r.Context)
		}
		s.put(r)
		got := s.get()
		if cap(got.Value) > 0 && &got.Value[:1][0] == &mine[0] {
			t.Fatal("the serde's memory was lent as a buffer")
		}
		s.put(lend(s, "x", nil)) // keep the pool busy
	}
	if string(mine) != "the serde's own bytes" {
		t.Fatalf("the serde's memory was overwritten: %q", mine)
	}
}

// TestSinkRecordsIgnoresOthers: put leaves alone records it did not lend
// (changelog records, dead letters, the user's), and a nil pool lends
// fresh records and marks nothing.
func TestSinkRecordsIgnoresOthers(t *testing.T) {
	s := newSinkRecords()
	for _, ctx := range []context.Context{nil, context.Background()} {
		r := &kgo.Record{Topic: "changelog", Value: []byte("v"), Context: ctx}
		s.put(r)
		if r.Topic != "changelog" || string(r.Value) != "v" {
			t.Fatalf("put changed a record it did not lend: %+v", r)
		}
	}
	var none *sinkRecords
	r := lend(none, "v", nil)
	if r.Context != nil || string(r.Value) != "v" {
		t.Fatalf("nil pool: %+v", r)
	}
	none.put(r) // takes nothing back
	if string(r.Value) != "v" {
		t.Fatalf("nil pool changed a record: %+v", r)
	}
}
