package stream

import (
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
