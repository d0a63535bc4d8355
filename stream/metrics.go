package stream

import "sync/atomic"

// Metrics counts what a running topology did. All fields are safe to read
// while it runs.
type Metrics struct {
	RecordsProcessed      atomic.Int64 // input records taken through a task
	DeserializationErrors atomic.Int64 // keys or values the serde rejected
	ProcessingErrors      atomic.Int64 // operator panics, processor errors, serialization failures
	LateRecords           atomic.Int64 // records later than a window's grace
	DeadLettered          atomic.Int64 // records written to the dead-letter topic
	Skipped               atomic.Int64 // failed records dropped with a log line (policy Skip)
	RestoredRecords       atomic.Int64 // changelog records applied while restoring stores
	Commits               atomic.Int64 // offset commits (or transactions) completed
}
