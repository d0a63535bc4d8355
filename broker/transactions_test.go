package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// readValues reads a topic from the start with the given isolation level
// until it has want records (or more, if the broker returns more in the
// same fetches) and returns their values.
func readValues(t *testing.T, ctx context.Context, b *broker.Broker, topic string, level kgo.IsolationLevel, want int) []string {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level))
	var out []string
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (have %d of %d)", topic, ctx.Err(), len(out), want)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// TestTransactionsCommitAbort produces a committed and an aborted
// transaction with franz-go: read_committed consumers see only the
// committed records, read_uncommitted ones see both.
func TestTransactionsCommitAbort(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createTopic(t, kadm.NewClient(newClient(t, b)), "txn", 2, nil)
	prod := newClient(t, b, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("txn"))
	for round, commit := range []bool{true, false, true} {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			prod.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r%d-%d", round, i))}, nil)
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %d: %v", round, err)
		}
	}
	committed := readValues(t, ctx, b, "txn", kgo.ReadCommitted(), 20)
	if len(committed) != 20 {
		t.Fatalf("read_committed saw %d records, want 20: %v", len(committed), committed)
	}
	for _, v := range committed {
		if v[:2] == "r1" {
			t.Fatalf("read_committed saw aborted record %s", v)
		}
	}
	if all := readValues(t, ctx, b, "txn", kgo.ReadUncommitted(), 30); len(all) != 30 {
		t.Fatalf("read_uncommitted saw %d records, want 30", len(all))
	}
}

// TestGroupTransactSession runs franz-go's consume-transform-produce
// session (a group consumer whose offsets commit in the producer's
// transaction): every input record appears exactly once in the output, and
// the group's committed offsets end at the input's end.
func TestGroupTransactSession(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, b))
	createTopic(t, adm, "in", 3, nil)
	createTopic(t, adm, "out", 3, nil)
	prod := newClient(t, b, kgo.DefaultProduceTopic("in"))
	const n = 300
	for i := 0; i < n; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addr()),
		kgo.TransactionalID("eos-1"),
		kgo.ConsumerGroup("eos-group"),
		kgo.ConsumeTopics("in"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic("out"),
		kgo.RequireStableFetchOffsets(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	seen := 0
	for seen < n {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("transformed %d of %d: %v", seen, n, ctx.Err())
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: append(r.Value, "-out"...)}, nil)
			seen++
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil || !committed {
			t.Fatalf("end of transaction: committed %v, err %v", committed, err)
		}
	}
	out := readValues(t, ctx, b, "out", kgo.ReadCommitted(), n)
	got := map[string]int{}
	for _, v := range out {
		got[v]++
	}
	for i := 0; i < n; i++ {
		if c := got[fmt.Sprintf("%d-out", i)]; c != 1 {
			t.Fatalf("output of %d appears %d times", i, c)
		}
	}
	offs, err := adm.FetchOffsets(ctx, "eos-group")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offs.Lookup("in", e.Partition)
		if !ok || o.At != e.Offset {
			t.Fatalf("partition %d: committed %+v, end %d", e.Partition, o, e.Offset)
		}
	})
}

// TestNextTransactionRightAfterCommit begins each transaction of a
// producer right after EndTxn answers for the previous one: the EndTxn
// reply waits for the markers, so the next AddPartitionsToTxn is never
// refused with CONCURRENT_TRANSACTIONS (which clients back off from for
// 20ms or more, capping a producer at a few dozen transactions a second).
func TestNextTransactionRightAfterCommit(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createTopic(t, kadm.NewClient(newClient(t, b)), "back-to-back", 2, nil)
	cl := newClient(t, b, kgo.MaxVersions(kversion.V3_5_0())) // AddPartitionsToTxn v3: one transactional id
	pid, epoch := initTxnProducer(t, ctx, cl, "b2b")
	for i := 0; i < 20; i++ {
		add := kmsg.NewPtrAddPartitionsToTxnRequest()
		add.TransactionalID, add.ProducerID, add.ProducerEpoch = "b2b", pid, epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = "back-to-back", []int32{0, 1}
		add.Topics = append(add.Topics, rt)
		resp, err := add.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("transaction %d: AddPartitionsToTxn right after the previous commit: %v", i, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		end := kmsg.NewPtrEndTxnRequest()
		end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "b2b", pid, epoch, i%3 != 0
		eresp, err := end.RequestWith(ctx, cl)
		if err != nil || eresp.ErrorCode != 0 {
			t.Fatalf("transaction %d: EndTxn: %v %v", i, err, kerr.ErrorForCode(eresp.ErrorCode))
		}
	}
}
