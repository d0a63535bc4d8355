package txn

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// State is the state of a transactional id, with the codes Kafka writes in
// __transaction_state.
type State int8

// The states. A transactional id here is only ever Empty, Ongoing,
// PrepareCommit, PrepareAbort, CompleteCommit or CompleteAbort: an expired
// id is removed at once (Kafka's transient Dead), and fencing an Ongoing
// transaction goes straight to PrepareAbort with the bumped epoch (Kafka's
// in-memory PrepareEpochFence). Both are listed for completeness.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String returns Kafka's name of the state, as DescribeTransactions and
// ListTransactions report it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// ParseState returns the state named name (Kafka's names, exactly).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// transaction is the state of one transactional id (Kafka's
// TransactionMetadata).
type transaction struct {
	id string

	pid int64
	// prevPID is the producer id before the last InitProducerId (Kafka's
	// lastProducerId): after a rotation, a retry of that InitProducerId
	// names it. -1 if unknown.
	prevPID int64
	// epoch is the producer epoch; -1 only while a new id is being
	// initialized.
	epoch int16
	// lastEpoch is the epoch the last InitProducerId bumped from, when the
	// client named it (KIP-360): a retry naming it gets the same answer.
	// -1 otherwise. Not persisted, as in Kafka.
	lastEpoch int16

	timeoutMs int32
	state     State
	parts     map[TopicPartition]struct{} // of the open or ending transaction
	// groups are the consumer groups AddOffsetsToTxn added to the open
	// transaction. Kafka's record has no place for them: a transaction
	// restored from the log has only their __consumer_offsets partitions.
	groups map[string]struct{}

	start   time.Time // when the transaction began; zero if none (-1)
	updated time.Time // last transition

	timer timer // Ongoing: the transaction timeout; Empty, Complete*: expiry
}

func (t *transaction) sortedParts() []TopicPartition {
	ps := make([]TopicPartition, 0, len(t.parts))
	for tp := range t.parts {
		ps = append(ps, tp)
	}
	slices.SortFunc(ps, compareTP)
	return ps
}

func (t *transaction) sortedGroups() []string {
	if len(t.groups) == 0 {
		return nil
	}
	gs := make([]string, 0, len(t.groups))
	for g := range t.groups {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// open reports whether the id has a transaction that has not completed.
func (t *transaction) open() bool {
	return t.state == Ongoing || t.state == PrepareCommit || t.state == PrepareAbort
}

// idle reports whether the id may expire.
func (t *transaction) idle() bool {
	return t.state == Empty || t.state == CompleteCommit || t.state == CompleteAbort
}

// epochExhausted is Kafka's isEpochExhausted: the next InitProducerId
// rotates the producer id, so that clients never get math.MaxInt16 and the
// coordinator can always fence the last epoch it handed out.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }
