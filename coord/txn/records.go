package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Records are Kafka's: a TxnMetadataKey (version 0) naming the
// transactional id, with a TxnMetadataValue (version 0, as Kafka writes
// without KIP-890 part 2) holding the producer id and epoch, the timeout,
// the state code, the partitions of the open or ending transaction, and
// the transaction's start and last update times (Unix milliseconds, -1
// for a start when there is no transaction). A tombstone (nil value)
// forgets an expired id. One record is written per transition; the latest
// record of an id is its whole state, so the topic can be compacted.

var (
	// ErrStarted is returned by Restore once the coordinator has served a
	// call: records are replayed before anything else.
	ErrStarted = errors.New("txn: Restore after the coordinator started")

	// ErrBadRecord is wrapped by the error Restore returns for a record it
	// cannot decode.
	ErrBadRecord = errors.New("txn: malformed __transaction_state record")
)

const (
	keyVersion   = 0
	valueVersion = 0
)

func txnKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version = keyVersion
	k.TransactionalID = id
	return k.AppendTo(nil)
}

// record writes t's current state.
func (c *Coordinator) record(t *transaction) {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID = t.pid
	v.ProducerEpoch = t.epoch
	v.TimeoutMillis = t.timeoutMs
	v.State = kmsg.TransactionState(t.state)
	var topic *kmsg.TxnMetadataValueTopic
	for _, tp := range t.sortedParts() {
		if topic == nil || topic.Topic != tp.Topic {
			v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic})
			topic = &v.Topics[len(v.Topics)-1]
		}
		topic.Partitions = append(topic.Partitions, tp.Partition)
	}
	v.LastUpdateTimestamp = toMillis(t.updated)
	v.StartTimestamp = toMillis(t.start)
	c.out.Records = append(c.out.Records, Record{Key: txnKey(t.id), Value: v.AppendTo(nil)})
}

func (c *Coordinator) tombstone(id string) {
	c.out.Records = append(c.out.Records, Record{Key: txnKey(id)})
}

// toMillis is Kafka's timestamp: -1 for none.
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms < 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Restore replays one record of __transaction_state, in log order, before
// the coordinator serves anything (ErrStarted afterwards). An id comes
// back as its last record describes it; a tombstone, or a record in state
// Dead, forgets it. What the record format does not hold is lost, as when
// a Kafka coordinator fails over: the epoch a KIP-360 retry may name, and
// the group ids of AddOffsetsToTxn (see Markers.Groups); the previous
// producer id is kept when the record has it (value version 1). Call
// Recover next. Keys of a version other than 0 are not transaction
// records and are ignored; an undecodable record, or a state Kafka never
// writes (PrepareEpochFence, unknown codes), is an error wrapping
// ErrBadRecord.
func (c *Coordinator) Restore(key, value []byte) error {
	if c.started {
		return ErrStarted
	}
	if len(key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	if version := int16(binary.BigEndian.Uint16(key)); version != keyVersion {
		return nil
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("%w: key: %v", ErrBadRecord, err)
	}
	old := c.txns[k.TransactionalID]
	if value == nil {
		if old != nil {
			c.remove(old)
		}
		return nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("%w: value of %q: %v", ErrBadRecord, k.TransactionalID, err)
	}
	if v.Version < 0 {
		return fmt.Errorf("%w: value of %q has version %d", ErrBadRecord, k.TransactionalID, v.Version)
	}
	state := State(v.State)
	switch state {
	case Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort:
	case Dead:
		if old != nil {
			c.remove(old)
		}
		return nil
	default:
		return fmt.Errorf("%w: %q in state %d (%s)", ErrBadRecord, k.TransactionalID, v.State, state)
	}
	if old != nil {
		c.remove(old)
	}
	t := &transaction{
		id:        k.TransactionalID,
		pid:       v.ProducerID,
		prevPID:   -1,
		epoch:     v.ProducerEpoch,
		lastEpoch: -1,
		timeoutMs: v.TimeoutMillis,
		state:     state,
		start:     fromMillis(v.StartTimestamp),
		updated:   fromMillis(v.LastUpdateTimestamp),
	}
	if v.Version >= 1 {
		t.prevPID = v.PreviousProducerID
	}
	if t.open() {
		t.parts = make(map[TopicPartition]struct{})
		for _, vt := range v.Topics {
			for _, p := range vt.Partitions {
				t.parts[TopicPartition{vt.Topic, p}] = struct{}{}
			}
		}
	}
	c.add(t)
	return nil
}
