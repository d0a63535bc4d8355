package txn

// AddOffsetsToTxn (key 25), v0-v4.

import (
	"math"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal topic of committed offsets, whose
// partitions AddOffsetsToTxn adds to transactions.
const OffsetsTopic = "__consumer_offsets"

// AddOffsetsToTxn serves AddOffsetsToTxn v0-v4: the __consumer_offsets
// partition of the group (PartitionFor with OffsetsTopicPartitions) joins
// the producer's transaction exactly as through AddPartitionsToTxn, with
// the same errors (v0-v1 receive INVALID_PRODUCER_EPOCH for
// PRODUCER_FENCED), and the group is remembered for Markers.Groups. The
// client then sends TxnOffsetCommit to the group coordinator; the marker
// written to that partition when the transaction ends settles the
// offsets.
func (c *Coordinator) AddOffsetsToTxn(now time.Time, req *kmsg.AddOffsetsToTxnRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	tp := TopicPartition{OffsetsTopic, PartitionFor(req.Group, c.cfg.OffsetsTopicPartitions)}
	code := c.addPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, []TopicPartition{tp}, req.Group)
	resp.ErrorCode = fencedCode(code, req.Version < 2)
	c.reply(to, resp)
	return c.flush()
}

// PartitionFor returns the partition Kafka maps key to among partitions:
// the absolute value of Java's String.hashCode of key, modulo partitions.
// Groups map to __consumer_offsets partitions, and transactional ids to
// __transaction_state partitions, this way.
func PartitionFor(key string, partitions int32) int32 {
	var h int32
	for _, r := range key {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	if h == math.MinInt32 { // Kafka's Utils.abs
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}
