package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestAbortedTxnOffsetCommitCompaction commits a group's offset in one
// transaction and a later offset for the same partition in a transaction
// that aborts, lets the cleaner compact __consumer_offsets, then restarts
// the broker, which rebuilds the group from the compacted log: OffsetFetch
// must still return the committed offset. (A cleaner that is not
// transaction-aware keeps the aborted record as the latest for its key and
// removes the committed one, and the offset is lost at the restart.)
func TestAbortedTxnOffsetCommitCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := []broker.Option{broker.WithDataDir(dir), broker.WithConfig(map[string]string{
		"log.roll.ms":            "1", // every append rolls: the records become cleanable at once
		"log.cleaner.backoff.ms": "20",
	})}
	b := testbroker.Start(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newClient(t, b)
	createTopic(t, kadm.NewClient(cl), "src", 1, nil)

	pid, epoch := initTxnProducer(t, ctx, cl, "offsets-tx")
	txnCommitOffset(t, ctx, cl, "offsets-tx", pid, epoch, "g", 0, 10, true)
	txnCommitOffset(t, ctx, cl, "offsets-tx", pid, epoch, "g", 0, 20, false)
	txnCommitOffset(t, ctx, cl, "offsets-tx", pid, epoch, "g", 1, 5, true) // moves the log on
	wantOffset(t, ctx, cl, "g", 0, 10, "before compaction")

	// Wait until the cleaner has left one record for (g, src, 0).
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := countOffsetRecords(t, ctx, b, "g", "src", 0)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets still holds %d records for g/src/0", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantOffset(t, ctx, cl, "g", 0, 10, "after compaction")
	cl.Close()

	b.Close()
	b2 := testbroker.Start(t, opts...)
	cl2 := newClient(t, b2)
	wantOffset(t, ctx, cl2, "g", 0, 10, "after a restart")
	wantOffset(t, ctx, cl2, "g", 1, 5, "after a restart")
	// The transactional id still works: a new transaction commits.
	pid, epoch = initTxnProducer(t, ctx, cl2, "offsets-tx")
	txnCommitOffset(t, ctx, cl2, "offsets-tx", pid, epoch, "g", 0, 30, true)
	wantOffset(t, ctx, cl2, "g", 0, 30, "after a new commit")
}

func initTxnProducer(t *testing.T, ctx context.Context, cl *kgo.Client, txnID string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &txnID
	req.TransactionTimeoutMillis = 30000
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if kerr.IsRetriable(err) && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			t.Fatalf("InitProducerId: %v", err)
		}
		return resp.ProducerID, resp.ProducerEpoch
	}
}

// txnCommitOffset commits offset for group/src/partition in a transaction
// of its own, which ends with commit or abort.
func txnCommitOffset(t *testing.T, ctx context.Context, cl *kgo.Client, txnID string, pid int64, epoch int16, group string, partition int32, offset int64, commit bool) {
	t.Helper()
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, pid, epoch, group
	for {
		aresp, err := add.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if aresp.ErrorCode == kerr.ConcurrentTransactions.Code && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // the previous transaction is still completing
			continue
		}
		if aresp.ErrorCode != 0 {
			t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(aresp.ErrorCode))
		}
		break
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, group, pid, epoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "src"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(c))
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = txnID, pid, epoch, commit
	eresp, err := end.RequestWith(ctx, cl)
	if err != nil || eresp.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v %v", err, kerr.ErrorForCode(eresp.ErrorCode))
	}
}

// wantOffset checks the group's stable committed offset of src/partition
// (OffsetFetch with require_stable, retried while a transaction of the
// group is still completing).
func wantOffset(t *testing.T, ctx context.Context, cl *kgo.Client, group string, partition int32, want int64, when string) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "src", []int32{partition}
	req.Topics = append(req.Topics, rt)
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("%s: OffsetFetch: %v", when, err)
		}
		code := resp.ErrorCode
		got := int64(-2)
		if code == 0 && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
			code, got = resp.Topics[0].Partitions[0].ErrorCode, resp.Topics[0].Partitions[0].Offset
		}
		if err := kerr.ErrorForCode(code); err != nil && kerr.IsRetriable(err) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if code != 0 || got != want {
			t.Fatalf("%s: group %s has offset %d (%v) for src/%d, want %d", when, group, got, kerr.ErrorForCode(code), partition, want)
		}
		return
	}
}

// countOffsetRecords reads __consumer_offsets (read_uncommitted) and
// counts the offset commit records for group/topic/partition.
func countOffsetRecords(t *testing.T, ctx context.Context, b *broker.Broker, group, topic string, partition int32) int {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"__consumer_offsets": {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	n := 0
	for {
		// The log ends with a transaction marker, which a consumer never
		// sees: read until a poll brings nothing new.
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		if fs.NumRecords() == 0 {
			return n
		}
		fs.EachRecord(func(r *kgo.Record) {
			var key kmsg.OffsetCommitKey
			if err := key.ReadFrom(r.Key); err == nil && key.Version <= 1 && key.Group == group && key.Topic == topic && key.Partition == partition {
				n++
			}
		})
	}
}
