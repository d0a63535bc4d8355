package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
