package broker

// Produce (key 0), v3-v11.
//
// Each partition's record batches are split, validated (magic 2, lengths,
// CRC-32C, record count, no control batches, max.message.bytes, timestamp
// bounds) and only then appended, so a bad batch rejects the partition's
// whole request and writes nothing. Offsets are assigned by the log.
//
// acks=0 gets no response; acks=1 is answered once the batches are written
// to the log; acks=-1 once they are fsynced (group commit shares one fsync
// among all producers waiting on a partition). Responses leave the
// connection in request order.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage"
	"github.com/eddy-streaming/eddy/storage/codec"
)

func init() {
	register(kmsg.Produce.Int16(), 3, 11, handleProduce)
	// The batches are copied into the log before handleProduce returns;
	// the goroutine waiting for durability touches only the response.
	handlers[kmsg.Produce.Int16()].frameDone = true
}

type durableWait struct {
	log *storage.Log
	end int64
	rp  *kmsg.ProduceResponseTopicPartition
}

func handleProduce(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}

	// The response is laid out first so that pointers into it stay valid
	// for the goroutine that waits for durability.
	var waits []durableWait
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		t := b.topic(rt.Topic)
		for pi, rp := range rt.Partitions {
			out := &st.Partitions[pi]
			*out = kmsg.NewProduceResponseTopicPartition()
			out.Partition = rp.Partition
			var part *partition
			if t != nil {
				part = b.partition(t, rp.Partition)
			}
			if part == nil {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				out.BaseOffset = -1
				continue
			}
			if t.internal {
				setProduceError(out, errInternalTopic)
				continue
			}
			end, err := b.produceTo(part, rp.Records, r, out)
			if err != nil {
				setProduceError(out, err)
				continue
			}
			if r.Acks == -1 {
				waits = append(waits, durableWait{log: part.log, end: end, rp: out})
			}
		}
	}
	if r.Acks == 0 {
		return nil, errNoResponse
	}
	if allDurable(waits) {
		return resp, nil // no goroutine, timer or hand-off (always so without fsync)
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		for _, w := range waits {
			if err := w.log.WaitDurable(ctx, w.end); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					w.rp.ErrorCode = kerr.RequestTimedOut.Code
				} else {
					w.rp.ErrorCode = kerr.KafkaStorageError.Code
				}
				msg := err.Error()
				w.rp.ErrorMessage = &msg
				w.rp.BaseOffset = -1
			}
		}
		p.finish(resp, nil)
	}()
	return nil, nil
}

// allDurable reports whether every wait is already over.
func allDurable(waits []durableWait) bool {
	for _, w := range waits {
		if w.log.HighWatermark() < w.end {
			return false
		}
	}
	return true
}

// produceTo validates and appends one partition's batches, filling the
// response partition. It returns the offset after the last record.
func (b *Broker) produceTo(part *partition, records []byte, r *kmsg.ProduceRequest, out *kmsg.ProduceResponseTopicPartition) (int64, error) {
	batches, err := storage.SplitBatches(records)
	if err != nil {
		return 0, err
	}
	pol := part.topic.policy.Load()
	now := b.cfg.now().UnixMilli()
	infos := make([]storage.BatchInfo, len(batches))
	transactional := false
	for i, batch := range batches {
		info, err := storage.ValidateBatch(batch, pol.maxMessageBytes)
		if err != nil {
			return 0, err
		}
		if info.Transactional() {
			transactional = true
		}
		if pol.compacted {
			if err := requireKeys(batch); err != nil {
				return 0, err
			}
		}
		if !pol.logAppendTime {
			if info.FirstTimestamp >= 0 && now-info.FirstTimestamp > pol.tsBeforeMax ||
				info.MaxTimestamp-now > pol.tsAfterMax {
				return 0, errInvalidTimestamp
			}
		}
		infos[i] = info
	}
	out.LogAppendTime = -1
	if pol.logAppendTime {
		for _, batch := range batches {
			storage.SetLogAppendTime(batch, now)
		}
		out.LogAppendTime = now
	}
	var end int64
	if transactional {
		// KIP-890-style verification: the partition must be in the
		// producer's open transaction, or its records could hold the last
		// stable offset back until a timeout nobody started. The
		// coordinator stays locked until the batches are appended, so an
		// EndTxn cannot slip its markers in between.
		if b.txns == nil {
			return 0, errNotInTransaction
		}
		b.txns.mu.Lock()
		defer b.txns.mu.Unlock()
		for i := range infos {
			if !infos[i].Transactional() || !b.txns.mu.c.IsPartitionInTxn(infos[i].ProducerID, infos[i].ProducerEpoch, part.topic.name, part.index) {
				return 0, errNotInTransaction
			}
		}
	}
	for i, batch := range batches {
		base, err := part.log.Append(batch, &infos[i])
		if errors.Is(err, storage.ErrDuplicate) {
			// A retry of a batch already written: answer with its offsets
			// (and, for acks=all, once it is durable), write nothing.
			err = nil
		} else if err == nil {
			b.metrics.produced(part, len(batch), int(infos[i].NumRecords))
		}
		if err != nil {
			return 0, err
		}
		if i == 0 {
			out.BaseOffset = base
		}
		end = base + int64(infos[i].LastOffsetDelta) + 1
	}
	out.LogStartOffset = part.log.Offsets().LogStart
	return end, nil
}

// inflateLimit caps how far a compressed batch may inflate when the broker
// must look at its records (keys of compacted topics).
const inflateLimit = 64 << 20

// requireKeys checks that every record of a batch bound for a compacted
// topic has a key, as Kafka requires; compressed batches are inflated with
// a cap.
func requireKeys(batch []byte) error {
	recs, n, err := codec.BatchRecords(batch, inflateLimit)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalidRecord, err)
	}
	i := 0
	return codec.ReadRecords(recs, n, func(r *codec.Record) error {
		i++
		if r.Key == nil {
			return fmt.Errorf("%w: record %d has no key; compacted topics need keys", errInvalidRecord, i-1)
		}
		return nil
	})
}

var (
	errInternalTopic    = errors.New("clients may not write to the broker's internal topics")
	errInvalidRecord    = errors.New("invalid record")
	errNotInTransaction = errors.New("transactional produce to a partition that is not in the producer's open transaction (AddPartitionsToTxn first)")
	errInvalidTimestamp = errors.New("record timestamp outside message.timestamp.before.max.ms / after.max.ms")
)

func setProduceError(out *kmsg.ProduceResponseTopicPartition, err error) {
	out.BaseOffset = -1
	msg := err.Error()
	out.ErrorMessage = &msg
	switch {
	case errors.Is(err, storage.ErrBatchTooLarge):
		out.ErrorCode = kerr.MessageTooLarge.Code
	case errors.Is(err, storage.ErrCorruptBatch):
		out.ErrorCode = kerr.CorruptMessage.Code
	case errors.Is(err, storage.ErrUnsupportedMagic):
		out.ErrorCode = kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, storage.ErrControlBatch), errors.Is(err, errInvalidRecord), errors.Is(err, codec.ErrCorrupt):
		out.ErrorCode = kerr.InvalidRecord.Code
	case errors.Is(err, storage.ErrOutOfOrderSequence):
		out.ErrorCode = kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		out.ErrorCode = kerr.InvalidProducerEpoch.Code
	case errors.Is(err, storage.ErrUnknownProducerID):
		out.ErrorCode = kerr.UnknownProducerID.Code
	case errors.Is(err, storage.ErrInvalidTxnState):
		out.ErrorCode = kerr.InvalidTxnState.Code
	case errors.Is(err, errInternalTopic):
		out.ErrorCode = kerr.InvalidTopicException.Code
	case errors.Is(err, errInvalidTimestamp):
		out.ErrorCode = kerr.InvalidTimestamp.Code
	case errors.Is(err, errNotInTransaction):
		out.ErrorCode = kerr.InvalidTxnState.Code
	case errors.Is(err, storage.ErrClosed):
		out.ErrorCode = kerr.NotLeaderForPartition.Code
	default:
		out.ErrorCode = kerr.KafkaStorageError.Code
	}
}
