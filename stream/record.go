package stream

import "github.com/twmb/franz-go/pkg/kgo"

// Header is a record header (the Kafka type, so headers pass through
// without copying).
type Header = kgo.RecordHeader

// Record is one typed record flowing through a topology. Timestamp is the
// event time in milliseconds since the Unix epoch.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   []Header
}

// KeyValue is a key and a value.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Windowed is the key of a windowed aggregation: the grouping key and the
// window's bounds, [Start, End) in milliseconds.
type Windowed[K any] struct {
	Key   K
	Start int64
	End   int64
}

// change is what flows out of a table node: an update (ok) or a deletion.
type change[V any] struct {
	v  V
	ok bool
}
