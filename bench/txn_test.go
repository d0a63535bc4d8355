package bench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/internal/cli/testbroker"
)

// TestTransactional runs transactional produce with a record budget that
// does not divide into whole transactions, and checks the figures and that
// a read_committed consumer sees every committed record (plus the warm-up
// transactions' records) and nothing else.
func TestTransactional(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := testbroker.Start(t)
	cfg := Config{
		Brokers:    brokers,
		Topic:      fmt.Sprintf("bench-txn-%d", time.Now().UnixNano()),
		Partitions: 2,
		Replicas:   1,
		RecordSize: 40,
		Records:    250,
		Producers:  2,
		Linger:     time.Millisecond,
	}
	res, err := Transactional(ctx, cfg, 100)
	if err != nil {
		t.Fatal(err)
	}
	// 250 records in transactions of 100: 100, 100, 50.
	if res.Produce.Records != 250 || res.Transactions != 3 || res.Produce.Errors != 0 || res.Produce.Bytes != 250*40 {
		t.Fatalf("result %+v, produce %+v", res, res.Produce)
	}
	if res.Commit == nil || res.Commit.Count != 3 || res.Commit.P50 <= 0 {
		t.Fatalf("commit latency %+v", res.Commit)
	}
	checkLatency(t, "ack", res.Produce.Ack, 250)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for n < 252 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 252 committed records", n)
		}
		n += fs.NumRecords()
	}

	if _, err := Transactional(ctx, cfg, 0); err == nil {
		t.Fatal("commit every 0 records accepted")
	}
	var buf bytes.Buffer
	if err := PrintTxnTable(&buf, nil, []*TxnResult{res}); err != nil || !strings.Contains(buf.String(), "txn every 100") {
		t.Fatalf("table: %v\n%s", err, buf.String())
	}
}

// BenchmarkTransactional commits every 1, 100 and 10000 records (b.N
// records in all per sub-benchmark) against the test broker, reporting
// records/s and the commit latency.
func BenchmarkTransactional(b *testing.B) {
	brokers := testbroker.Start(b)
	for _, every := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("every-%d", every), func(b *testing.B) {
			cfg := Config{Brokers: brokers, Topic: fmt.Sprintf("go-bench-txn-%d", every), Partitions: 1, Replicas: 1, Records: int64(b.N)}
			b.ResetTimer()
			res, err := Transactional(context.Background(), cfg, every)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.Produce.RecordsPerSec, "records/s")
			b.ReportMetric(res.Produce.MBPerSec, "MB/s")
			if res.Commit != nil {
				b.ReportMetric(float64(res.Commit.P50.Microseconds()), "commit-p50-µs")
				b.ReportMetric(float64(res.Commit.P99.Microseconds()), "commit-p99-µs")
			}
		})
	}
}
