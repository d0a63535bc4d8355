package txn

import (
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/coord/internal/deadline"
)

// ReplyTo is the caller's token for a request: whatever the broker needs
// to route the response. The coordinator only copies it into Reply.To.
type ReplyTo any

// Record is one record for __transaction_state. Value nil is a tombstone.
type Record struct {
	Key   []byte
	Value []byte
}

// Reply is a response for the request whose token was To.
type Reply struct {
	To       ReplyTo
	Response kmsg.Response
}

// Markers asks the caller to end one transaction on each of its
// partitions: append a control batch (storage.Log.AppendMarker) of
// ProducerID and ProducerEpoch, commit or abort, with CoordinatorEpoch, to
// every partition in Partitions, and then report with
// Coordinator.MarkersWritten.
type Markers struct {
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	// Partitions are every partition the transaction added, sorted,
	// including the __consumer_offsets partitions of AddOffsetsToTxn: the
	// marker there is what tells the group coordinator to make the
	// transaction's offsets visible (commit) or drop them (abort).
	Partitions []TopicPartition
	// Groups are the groups AddOffsetsToTxn added, sorted. They are only
	// known for transactions begun since the coordinator was created: for
	// one restored mid-way from __transaction_state (whose records, Kafka's
	// format, have no place for them) Groups is nil. The group coordinator
	// must therefore be able to settle a producer's pending transactional
	// offsets from the marker on their partition alone, as Kafka's does;
	// Groups only saves it a search.
	Groups []string
}

// Output is what one call asks of the caller: append Records durably, in
// order; once they are durable, send Replies and start writing Markers.
// Any of them may be empty.
type Output struct {
	Records []Record
	Replies []Reply
	Markers []Markers
}

// Coordinator holds every transactional id. It is not safe for concurrent
// use. Create it with New.
type Coordinator struct {
	cfg   Config
	txns  map[string]*transaction
	byPID map[int64]*transaction // current producer id of each transactional id

	now     time.Time // the time of the call in progress (never decreases)
	started bool      // a call with a time has been made; Restore is over
	out     Output    // accumulates during a call

	timers deadline.Queue[string] // by transactional id
}

// New returns an empty Coordinator. It fails with an error wrapping
// ErrInvalidConfig if cfg is not usable.
func New(cfg Config) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Coordinator{
		cfg:   cfg,
		txns:  make(map[string]*transaction),
		byPID: make(map[int64]*transaction),
	}, nil
}

// Handle routes any request this package serves to its method and reports
// whether it did.
func (c *Coordinator) Handle(now time.Time, req kmsg.Request, to ReplyTo) (Output, bool) {
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		return c.InitProducerID(now, r, to), true
	case *kmsg.AddPartitionsToTxnRequest:
		return c.AddPartitionsToTxn(now, r, to), true
	case *kmsg.AddOffsetsToTxnRequest:
		return c.AddOffsetsToTxn(now, r, to), true
	case *kmsg.EndTxnRequest:
		return c.EndTxn(now, r, to), true
	case *kmsg.DescribeTransactionsRequest:
		return c.DescribeTransactions(now, r, to), true
	case *kmsg.ListTransactionsRequest:
		return c.ListTransactions(now, r, to), true
	}
	return Output{}, false
}

// Recover is the first call after Restore: it asks for the markers of
// every transaction the log left in PrepareCommit or PrepareAbort, so that
// a commit or abort interrupted by a crash completes, and it starts the
// timers of the restored ids (an Ongoing transaction keeps its start time
// and times out as it would have; an idle id expires as it would have).
// Whichever call comes first does this; Recover makes it explicit. It is
// otherwise Tick.
func (c *Coordinator) Recover(now time.Time) Output {
	return c.Tick(now)
}

// Tick fires every deadline at or before now: Ongoing transactions older
// than their timeout are aborted with their epoch bumped (fencing the
// producer), and idle transactional ids older than
// TransactionalIDExpiration are forgotten. Every other call does the same
// before its own work, so a transaction past its timeout can never be
// committed, whenever Tick runs.
//
// Each deadline fires as if Tick had been called exactly then: the
// records it writes carry the deadline as their time.
func (c *Coordinator) Tick(now time.Time) Output {
	c.begin(now)
	return c.flush()
}

// NextDeadline returns when Tick next has work to do, and false if
// nothing is armed.
func (c *Coordinator) NextDeadline() (time.Time, bool) {
	return c.timers.Next(c.lookup)
}

// MarkersWritten reports that the markers of a Markers request (named by
// its TransactionalID, ProducerID and ProducerEpoch) are all written and
// durable: the transaction completes (CompleteCommit or CompleteAbort is
// recorded) and the id can start its next transaction. A report that
// matches no transaction awaiting its markers changes nothing, so reports
// may be repeated, and may come from markers a previous Coordinator asked
// for before the broker rebuilt it: markers durably written are written.
func (c *Coordinator) MarkersWritten(now time.Time, transactionalID string, producerID int64, epoch int16) Output {
	c.begin(now)
	t := c.txns[transactionalID]
	if t != nil && t.pid == producerID && t.epoch == epoch && (t.state == PrepareCommit || t.state == PrepareAbort) {
		c.complete(t)
	}
	return c.flush()
}

// begin starts a call at now: the first call also starts the coordinator
// (recovery markers, restored timers), and every deadline up to now fires.
func (c *Coordinator) begin(now time.Time) {
	last := c.now
	target := last
	if now.After(target) || target.IsZero() {
		target = now
	}
	c.now = target
	if !c.started {
		c.start()
	}
	for {
		id, at, ok := c.timers.PopDue(target, c.lookup)
		if !ok {
			break
		}
		if at.After(last) {
			last = at
		}
		c.now = last
		c.fire(c.txns[id])
	}
	c.now = target
}

// start asks for the markers of restored Prepare* transactions and arms
// the timers of the others.
func (c *Coordinator) start() {
	c.started = true
	for _, t := range c.sorted() {
		switch {
		case t.state == Ongoing:
			c.arm(t, t.start.Add(millis(t.timeoutMs)))
		case t.idle():
			c.arm(t, t.updated.Add(c.cfg.TransactionalIDExpiration))
		default:
			c.requestMarkers(t)
		}
	}
}

// fire runs the deadline of t.
func (c *Coordinator) fire(t *transaction) {
	switch {
	case t.state == Ongoing:
		c.fence(t)
	case t.idle():
		c.expire(t)
	}
}

// flush hands back what the call produced.
func (c *Coordinator) flush() Output {
	out := c.out
	c.out = Output{}
	c.timers.Compact(c.lookup)
	return out
}

func (c *Coordinator) reply(to ReplyTo, resp kmsg.Response) {
	c.out.Replies = append(c.out.Replies, Reply{To: to, Response: resp})
}

// sorted returns the transactions ordered by transactional id.
func (c *Coordinator) sorted() []*transaction {
	ts := make([]*transaction, 0, len(c.txns))
	for _, t := range c.txns {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *transaction) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return ts
}

// add registers t under its id and producer id.
func (c *Coordinator) add(t *transaction) {
	c.txns[t.id] = t
	c.byPID[t.pid] = t
}

// remove forgets t and disarms its timer. It writes nothing.
func (c *Coordinator) remove(t *transaction) {
	c.disarm(&t.timer)
	delete(c.txns, t.id)
	if c.byPID[t.pid] == t {
		delete(c.byPID, t.pid)
	}
}

// setPID moves t to a new producer id.
func (c *Coordinator) setPID(t *transaction, pid int64) {
	if c.byPID[t.pid] == t {
		delete(c.byPID, t.pid)
	}
	t.pid = pid
	c.byPID[pid] = t
}

// beginTxn begins a transaction on an idle id (AddPartitionsToTxn or
// AddOffsetsToTxn), its timeout running from now.
func (c *Coordinator) beginTxn(t *transaction) {
	t.state = Ongoing
	t.start = c.now
	t.parts = make(map[TopicPartition]struct{})
	t.groups = nil
	c.arm(t, t.start.Add(millis(t.timeoutMs)))
}

// fence aborts t's Ongoing transaction for the coordinator (a timeout or
// an InitProducerId from a new instance): the epoch is bumped first, so
// the markers carry the new epoch and the partitions refuse the old
// producer's writes from then on.
func (c *Coordinator) fence(t *transaction) {
	if t.epoch < math.MaxInt16 { // always: clients never get math.MaxInt16
		t.epoch++
	}
	t.lastEpoch = -1
	c.prepareEnd(t, false)
}

// prepareEnd moves t's Ongoing transaction to PrepareCommit or
// PrepareAbort, records it and asks for the markers.
func (c *Coordinator) prepareEnd(t *transaction, commit bool) {
	t.state = PrepareAbort
	if commit {
		t.state = PrepareCommit
	}
	t.updated = c.now
	c.disarm(&t.timer)
	c.record(t)
	if len(t.parts) == 0 { // nothing to mark (only a hand-written log gets here)
		c.complete(t)
		return
	}
	c.requestMarkers(t)
}

func (c *Coordinator) requestMarkers(t *transaction) {
	c.out.Markers = append(c.out.Markers, c.markersOf(t))
}

func (c *Coordinator) markersOf(t *transaction) Markers {
	return Markers{
		TransactionalID:  t.id,
		ProducerID:       t.pid,
		ProducerEpoch:    t.epoch,
		Commit:           t.state == PrepareCommit,
		CoordinatorEpoch: c.cfg.CoordinatorEpoch,
		Partitions:       t.sortedParts(),
		Groups:           t.sortedGroups(),
	}
}

// complete moves a Prepare* transaction to Complete*, records it and arms
// the id's expiry.
func (c *Coordinator) complete(t *transaction) {
	if t.state == PrepareCommit {
		t.state = CompleteCommit
	} else {
		t.state = CompleteAbort
	}
	t.parts = nil
	t.groups = nil
	t.updated = c.now
	c.record(t)
	c.arm(t, t.updated.Add(c.cfg.TransactionalIDExpiration))
}

// expire forgets an idle id with a tombstone.
func (c *Coordinator) expire(t *transaction) {
	c.remove(t)
	c.tombstone(t.id)
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
