package stream

import (
	"sort"
	"sync/atomic"
	"time"
)

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
	StandbyRecords        atomic.Int64 // changelog records applied to standby tasks' stores
	Commits               atomic.Int64 // offset commits (or transactions) completed
}

// TaskState says whether a task is restoring its stores or processing, or
// is a standby (a warm copy of the stores of a task another instance
// runs).
type TaskState string

// The states of a task.
const (
	TaskRestoring TaskState = "restoring"
	TaskRunning   TaskState = "running"
	TaskStandby   TaskState = "standby"
)

// LatencyBounds are the upper bounds (inclusive) of the processing-latency
// histogram's buckets; a last, unbounded bucket follows them.
var LatencyBounds = latencyBounds[:]

var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Histogram is a snapshot of a latency histogram over LatencyBounds.
type Histogram struct {
	Counts []uint64      // per bucket (not cumulative), len(LatencyBounds)+1
	Count  uint64        // observations
	Sum    time.Duration // of the observations
}

// TaskStats is a snapshot of one task's counters.
type TaskStats struct {
	ID        string    // "SUB_PARTITION" (e.g. "0_3"), or "global"
	State     TaskState // restoring its stores, or running
	Processed int64     // input records taken through the task
	Errors    int64     // records that failed (deserialization, processing, late)
	// DeadLettered counts the records written to the dead-letter topic.
	DeadLettered int64
	// RestoreTotal is how many changelog offsets the task's stores had to
	// restore when the task started (for each changelog partition, its
	// end offset minus where the restore started: the partition's start,
	// a promoted standby's position, or a persistent store's checkpoint),
	// Restored how many are done; RestoreTotal - Restored is what is left.
	RestoreTotal, Restored int64
	// Lag is, for a standby task, how many changelog offsets its stores
	// are behind the changelog end offsets last seen (-1 until they are
	// known); 0 for active tasks. A standby's Processed counts the
	// changelog records it applied.
	Lag int64
	// Latency observes, once per task and poll, the time from when the
	// runtime starts on a poll's records (after restoring new tasks) until
	// the task has handed the outputs of its last record of that poll to
	// the producer client (not yet acknowledged by the broker).
	Latency Histogram
}

// taskStats are a task's counters, written by the goroutine running the
// task and read by TaskMetrics from any goroutine. The record path touches
// none of them per record: processed is published once per batch.
type taskStats struct {
	id           string
	standby      bool
	running      atomic.Bool
	lag          atomic.Int64
	processed    atomic.Int64
	errors       atomic.Int64
	deadLettered atomic.Int64
	restoreTotal atomic.Int64
	restored     atomic.Int64
	latency      [len(latencyBounds) + 1]atomic.Uint64
	latencySum   atomic.Int64 // ns
}

func (s *taskStats) observe(d time.Duration) {
	i := sort.Search(len(latencyBounds), func(i int) bool { return d <= latencyBounds[i] })
	s.latency[i].Add(1)
	s.latencySum.Add(int64(d))
}

func (s *taskStats) snapshot() TaskStats {
	st := TaskStats{
		ID: s.id, State: TaskRestoring, Processed: s.processed.Load(), Errors: s.errors.Load(),
		DeadLettered: s.deadLettered.Load(), RestoreTotal: s.restoreTotal.Load(), Restored: s.restored.Load(),
		Latency: Histogram{Counts: make([]uint64, len(s.latency)), Sum: time.Duration(s.latencySum.Load())},
	}
	switch {
	case s.standby:
		st.State, st.Lag = TaskStandby, s.lag.Load()
	case s.running.Load():
		st.State = TaskRunning
	}
	for i := range s.latency {
		st.Latency.Counts[i] = s.latency[i].Load()
		st.Latency.Count += st.Latency.Counts[i]
	}
	return st
}
