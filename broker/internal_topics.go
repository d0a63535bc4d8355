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
	var body []byte
	for i, r := range recs {
		body = codec.AppendRecord(body, &codec.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value})
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
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
	if len(recs) == 0 {
		return p.log.Offsets().LogEnd, nil
	}
	batch := encodeBatch(recs, b.cfg.now().UnixMilli())
	info, err := storage.ValidateBatch(batch, 0)
	if err != nil {
		return 0, fmt.Errorf("internal batch: %w", err)
	}
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
// offset order, from the log start to the high watermark.
func (b *Broker) replayInternal(p *partition, fn func(key, value []byte) error) error {
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
			if rb.Attributes&storage.AttrControl != 0 {
				continue
			}
			recs, n, err := codec.BatchRecords(batch, 256<<20)
			if err != nil {
				return err
			}
			if err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
				return fn(r.Key, r.Value)
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
