package txn

import (
	"time"
)

// Queries for the broker's produce path, and read-only views for the CLI
// and the console. They change nothing and fire no deadline: a
// transaction past its timeout still shows as Ongoing until the next call.

// IsPartitionInTxn reports whether producerID at epoch has an Ongoing
// transaction that added topic/partition: a transactional batch to a
// partition for which this is false is answered INVALID_TXN_STATE by the
// broker (a partition not added, a fenced or unknown producer, or a
// transaction being committed or aborted).
func (c *Coordinator) IsPartitionInTxn(producerID int64, epoch int16, topic string, partition int32) bool {
	t := c.byPID[producerID]
	if t == nil || t.epoch != epoch || t.state != Ongoing {
		return false
	}
	_, ok := t.parts[TopicPartition{topic, partition}]
	return ok
}

// Producer returns the current producer id and epoch of a transactional
// id, and false if the id is unknown.
func (c *Coordinator) Producer(transactionalID string) (producerID int64, epoch int16, ok bool) {
	t := c.txns[transactionalID]
	if t == nil {
		return -1, -1, false
	}
	return t.pid, t.epoch, true
}

// TransactionalID returns the transactional id whose current producer id
// is producerID, and false if there is none.
func (c *Coordinator) TransactionalID(producerID int64) (string, bool) {
	t := c.byPID[producerID]
	if t == nil {
		return "", false
	}
	return t.id, true
}

// PendingMarkers returns the markers every PrepareCommit and PrepareAbort
// transaction waits for, sorted by transactional id: what to write again
// if writing markers failed.
func (c *Coordinator) PendingMarkers() []Markers {
	var ms []Markers
	for _, t := range c.sorted() {
		if t.state == PrepareCommit || t.state == PrepareAbort {
			ms = append(ms, c.markersOf(t))
		}
	}
	return ms
}

// Description describes one transactional id.
type Description struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	State           State
	Timeout         time.Duration
	// Start is when the current (or, when Complete*, the last)
	// transaction began; zero if none since the last InitProducerId.
	Start time.Time
	// LastUpdate is the time of the last transition.
	LastUpdate time.Time
	// Partitions are those of the Ongoing or Prepare* transaction, sorted.
	Partitions []TopicPartition
	// Groups are those AddOffsetsToTxn added to it (see Markers.Groups).
	Groups []string
}

// Transactions describes every transactional id, sorted.
func (c *Coordinator) Transactions() []Description {
	var ds []Description
	for _, t := range c.sorted() {
		ds = append(ds, describe(t))
	}
	return ds
}

// Transaction describes one transactional id, or reports false if it is
// unknown.
func (c *Coordinator) Transaction(transactionalID string) (Description, bool) {
	t := c.txns[transactionalID]
	if t == nil {
		return Description{}, false
	}
	return describe(t), true
}

func describe(t *transaction) Description {
	d := Description{
		TransactionalID: t.id,
		ProducerID:      t.pid,
		ProducerEpoch:   t.epoch,
		State:           t.state,
		Timeout:         millis(t.timeoutMs),
		Start:           t.start,
		LastUpdate:      t.updated,
		Groups:          t.sortedGroups(),
	}
	if len(t.parts) > 0 {
		d.Partitions = t.sortedParts()
	}
	return d
}
