package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage"
	"github.com/eddy-streaming/eddy/storage/codec"
)

// Internal topics hold the coordinators' state as ordinary compacted
// partition logs, in Kafka's own record formats, so they are replayed at
// start like any log and readable by Kafka tools:
//
//	__consumer_offsets     group metadata and committed offsets
//	__transaction_state    transaction coordinator state
const (
	consumerOffsetsTopic  = "__consumer_offsets"
	transactionStateTopic = "__transaction_state"
)

// internalRecord is one key/value to persist; a nil value is a tombstone.
type internalRecord struct {
	Key, Value []byte
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeBatch builds an uncompressed magic 2 record batch of recs with
// timestamp ts, ready for Log.Append.
func encodeBatch(recs []internalRecord, ts int64) []byte {
	return encodeTxnBatch(recs, ts, -1, -1)
}

// encodeTxnBatch is encodeBatch for producer pid at epoch: with pid >= 0
// the batch is transactional, carries the producer's id and epoch and no
// sequence (-1), as Kafka writes the records of TxnOffsetCommit; pid -1
// makes an ordinary batch.
func encodeTxnBatch(recs []internalRecord, ts int64, pid int64, epoch int16) []byte {
	var body []byte
	for i, r := range recs {
		body = codec.AppendRecord(body, &codec.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value})
	}
	var attrs int16
	if pid < 0 {
		pid, epoch = -1, -1
	} else {
		attrs = storage.AttrTransactional
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crcTable))
	return b
}

// ensureInternalTopic opens or creates an internal compacted topic.
func (b *Broker) ensureInternalTopic(name string, partitions int32) (*topic, error) {
	if t := b.topic(name); t != nil {
		return t, nil
	}
	t, terr := b.createTopic(name, partitions, map[string]string{
		"cleanup.policy": "compact",
		"segment.bytes":  "104857600",
	}, false)
	if terr != nil {
		return nil, fmt.Errorf("creating %s: %v", name, terr)
	}
	return t, nil
}

// appendInternal appends recs to an internal partition and returns the
// offset after them; the caller waits for durability with
// p.log.WaitDurable.
func (b *Broker) appendInternal(p *partition, recs []internalRecord) (int64, error) {
	return b.appendInternalTxn(p, recs, -1, -1)
}

// appendInternalTxn is appendInternal for records of producer pid's
// transaction (pid -1: ordinary records): one transactional batch with
// the producer's id and epoch and no sequence, appended as a coordinator
// batch (storage.BatchInfo.Coordinator: the log checks the producer's
// epoch, failing with storage.ErrInvalidProducerEpoch if it was fenced,
// but not its sequence). The transaction's marker on the partition ends
// it.
func (b *Broker) appendInternalTxn(p *partition, recs []internalRecord, pid int64, epoch int16) (int64, error) {
	if len(recs) == 0 {
		return p.log.Offsets().LogEnd, nil
	}
	batch := encodeTxnBatch(recs, b.cfg.now().UnixMilli(), pid, epoch)
	info, err := storage.ValidateBatch(batch, 0)
	if err != nil {
		return 0, fmt.Errorf("internal batch: %w", err)
	}
	info.Coordinator = pid >= 0
	base, err := p.log.Append(batch, &info)
	if err != nil {
		return 0, err
	}
	return base + int64(len(recs)), nil
}

// persist appends recs to an internal partition and waits until they are
// durable.
func (b *Broker) persist(ctx context.Context, p *partition, recs []internalRecord) error {
	end, err := b.appendInternal(p, recs)
	if err != nil {
		return err
	}
	return p.log.WaitDurable(ctx, end)
}

// replayInternal calls fn with every record of an internal partition, in
// offset order, from the log start to the high watermark. Transaction
// markers are skipped, and records of transactional batches passed on as
// the others: replayInternalEntries tells them apart.
func (b *Broker) replayInternal(p *partition, fn func(key, value []byte) error) error {
	return b.replayInternalEntries(p, func(e internalEntry) error {
		if e.Marker {
			return nil
		}
		return fn(e.Key, e.Value)
	})
}

// internalEntry is one entry of an internal partition as
// replayInternalEntries reports it: a record, or a transaction marker.
type internalEntry struct {
	Key, Value []byte
	// ProducerID is the batch's producer id (-1 if none), and
	// Transactional its transactional attribute: a record of a
	// transactional batch belongs to that producer's transaction.
	ProducerID    int64
	Transactional bool
	// Marker is set for a transaction marker (a control batch) of
	// ProducerID, which commits its transaction if Commit, and aborts it
	// otherwise; Key and Value are then nil.
	Marker bool
	Commit bool
}

// replayInternalEntries calls fn with every record and transaction marker
// of an internal partition, in offset order, from the log start to the
// high watermark. Control records other than commit and abort markers are
// skipped.
func (b *Broker) replayInternalEntries(p *partition, fn func(e internalEntry) error) error {
	offs := p.log.Offsets()
	off := offs.LogStart
	for off < offs.HighWatermark {
		data, err := p.log.Read(off, 4<<20, offs.HighWatermark)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			break
		}
		batches, err := storage.SplitBatches(data)
		if err != nil {
			return err
		}
		for _, batch := range batches {
			var rb kmsg.RecordBatch
			if err := rb.UnsafeReadFrom(batch); err != nil {
				return err
			}
			off = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
			control := rb.Attributes&storage.AttrControl != 0
			txn := rb.Attributes&storage.AttrTransactional != 0
			recs, n, err := codec.BatchRecords(batch, 256<<20)
			if err != nil {
				return err
			}
			if err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
				if !control {
					return fn(internalEntry{Key: r.Key, Value: r.Value, ProducerID: rb.ProducerID, Transactional: txn})
				}
				var key kmsg.ControlRecordKey
				if err := key.ReadFrom(r.Key); err != nil {
					return fmt.Errorf("control record at offset %d: %w", rb.FirstOffset+int64(r.OffsetDelta), err)
				}
				switch key.Type {
				case kmsg.ControlRecordKeyTypeCommit, kmsg.ControlRecordKeyTypeAbort:
					return fn(internalEntry{ProducerID: rb.ProducerID, Transactional: txn, Marker: true, Commit: key.Type == kmsg.ControlRecordKeyTypeCommit})
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// isInternalTopic reports whether name is one of the broker's own topics,
// which clients may read but not write or delete.
func isInternalTopic(name string) bool {
	return name == consumerOffsetsTopic || name == transactionStateTopic
}
