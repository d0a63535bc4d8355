package stream

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordSlabs lends franz-go the slices it decodes fetched records into
// (kgo.PoolRecords, given with kgo.WithPools). The App recycles every record
// of a poll once the poll is processed (kgo.Record.Recycle), and a slice
// whose records are all recycled comes back here. Without it each fetched
// batch costs a slice of thousands of Records (about 170 bytes each, full
// of pointers that the GC scans while they live).
//
// Nothing may keep a *kgo.Record of a poll after the poll is processed:
// the runtime copies what it keeps (a dead letter copies the key, value
// and headers slices, which point into the fetch response, not into the
// slab).
type recordSlabs struct{ p sync.Pool }

// GetRecords returns a slice of n zero Records.
func (s *recordSlabs) GetRecords(n int) []kgo.Record {
	if v, ok := s.p.Get().(*[]kgo.Record); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]kgo.Record, n)
}

// PutRecords takes back a slice whose records were all recycled (and so
// zeroed).
func (s *recordSlabs) PutRecords(rs []kgo.Record) { s.p.Put(&rs) }

// recycle gives the records of a processed poll back to their slabs.
func recycle(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
}

// sinkRecords lends sinks the records they write and takes them back once
// produced (franz-go is done with a record when its promise runs), with the
// buffer the value was encoded in: a sink then allocates neither per
// record. A record it lent carries one of its marks as its Context, which
// tells the App's promise to give it back and whether the value's buffer
// may be reused (only when the value serde appended into the buffer it was
// given: a buffer it allocated, or memory of its own, is left alone).
//
// A nil *sinkRecords lends fresh records and takes nothing back: the test
// driver keeps what the tasks write.
type sinkRecords struct {
	p       sync.Pool
	withBuf context.Context // the value's buffer is reusable
	bare    context.Context // only the record is
}

type sinkMark struct{ reusableBuffer bool }

func newSinkRecords() *sinkRecords {
	return &sinkRecords{
		withBuf: context.WithValue(context.Background(), sinkMark{true}, true),
		bare:    context.WithValue(context.Background(), sinkMark{false}, true),
	}
}

// get returns a zero record whose Value, if not nil, is an empty buffer
// to encode into.
func (s *sinkRecords) get() *kgo.Record {
	if s != nil {
		if r, ok := s.p.Get().(*kgo.Record); ok {
			return r
		}
	}
	return new(kgo.Record)
}

// lent marks r, got from get, as lent: put takes it back. buf is the
// buffer Value was encoded into.
func (s *sinkRecords) lent(r *kgo.Record, buf []byte) {
	if s == nil {
		return
	}
	r.Context = s.bare
	if cap(buf) > 0 && cap(r.Value) > 0 && &buf[:1][0] == &r.Value[:1][0] {
		r.Context = s.withBuf
	}
}

// put takes back a record that get lent, once nothing uses it; it ignores
// any other record.
func (s *sinkRecords) put(r *kgo.Record) {
	if s == nil {
		return
	}
	var buf []byte
	switch r.Context {
	case s.withBuf:
		buf = r.Value[:0]
	case s.bare:
	default:
		return
	}
	*r = kgo.Record{Value: buf}
	s.p.Put(r)
}
