package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/internal/cli/testbroker"
)

func TestHistogramBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v uint64) {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Fatalf("value %d outside its bucket %d [%d, %d]", v, i, lo, hi)
		}
		if width := hi - lo; v >= histSub && float64(width) > float64(lo)/histSub {
			t.Fatalf("bucket %d [%d, %d] wider than 1/%d of its values", i, lo, hi, histSub)
		}
	}
	for v := range uint64(4096) {
		check(v)
	}
	for range 100000 {
		check(rng.Uint64() >> rng.IntN(64))
	}
	check(math.MaxUint64)
	// Buckets are contiguous: each starts right after the previous one.
	for i := 1; i < histBuckets; i++ {
		_, prevHi := bucketBounds(i - 1)
		if lo, _ := bucketBounds(i); lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Count() != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	// 1µs .. 100ms in 1µs steps, shuffled, recorded concurrently.
	const n = 100000
	vals := make([]time.Duration, n)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for _, v := range vals[w*n/4 : (w+1)*n/4] {
				h.Record(v)
			}
		})
	}
	wg.Wait()
	if h.Count() != n || h.Min() != time.Microsecond || h.Max() != n*time.Microsecond {
		t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if mean := h.Mean(); mean != (n+1)*time.Microsecond/2 {
		t.Fatalf("mean = %v", mean)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := float64(q*n) * float64(time.Microsecond)
		got := float64(h.Quantile(q))
		if got < want || got > want*1.01 {
			t.Fatalf("q%v = %v, want within 1%% above %v", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.Quantile(0) != h.Min() || h.Quantile(1) != h.Max() {
		t.Fatalf("q0 %v q1 %v", h.Quantile(0), h.Quantile(1))
	}

	// Merging two halves gives the same figures as recording everything.
	a, b := NewHistogram(), NewHistogram()
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b)
	if a.Summary() != h.Summary() {
		t.Fatalf("merged %+v\nwant   %+v", a.Summary(), h.Summary())
	}
	h.Record(-time.Second)
	if h.Min() != 0 {
		t.Fatalf("negative sample not clamped to 0: min %v", h.Min())
	}
}

func TestDiskBaseline(t *testing.T) {
	res, err := DiskBaseline(context.Background(), DiskConfig{
		Dir: t.TempDir(), TotalBytes: 3<<20 + 100, ChunkBytes: 1 << 20, SyncEveryBytes: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SyncAtEnd.Syncs != 1 || res.GroupCommit.Syncs != 4 {
		t.Fatalf("syncs: at end %d, group commit %d", res.SyncAtEnd.Syncs, res.GroupCommit.Syncs)
	}
	for _, run := range []DiskRun{res.SyncAtEnd, res.GroupCommit} {
		if run.MBPerSec <= 0 || run.Elapsed <= 0 || run.SyncLatency.Count != int64(run.Syncs) {
			t.Fatalf("run figures %+v", run)
		}
	}
	var buf bytes.Buffer
	if err := res.Print(&buf); err != nil || !strings.Contains(buf.String(), "every 1 MiB") {
		t.Fatalf("print: %v\n%s", err, buf.String())
	}
	if res.Sustained != nil || res.ReferenceMBPerSec() != max(res.SyncAtEnd.MBPerSec, res.GroupCommit.MBPerSec) {
		t.Fatalf("without a duration: sustained %+v, reference %.1f", res.Sustained, res.ReferenceMBPerSec())
	}
	if _, err := DiskBaseline(context.Background(), DiskConfig{Dir: "/nonexistent/eddy"}); err == nil {
		t.Fatal("missing directory accepted")
	}
}

func TestDiskBaselineSustained(t *testing.T) {
	res, err := DiskBaseline(context.Background(), DiskConfig{
		Dir: t.TempDir(), TotalBytes: 1 << 20, ChunkBytes: 256 << 10, SyncEveryBytes: 1 << 20,
		Duration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Sustained
	if s == nil || !s.Sustained || res.GroupCommit.Sustained {
		t.Fatalf("sustained run %+v, group commit %+v", s, res.GroupCommit)
	}
	// The sustained run is bounded by time, not by TotalBytes.
	if s.Elapsed < 200*time.Millisecond || s.Bytes <= res.GroupCommit.Bytes || s.Syncs != int((s.Bytes+1<<20-1)>>20) {
		t.Fatalf("sustained run figures %+v", s)
	}
	if res.ReferenceMBPerSec() != s.MBPerSec {
		t.Fatalf("reference %.1f, sustained %.1f", res.ReferenceMBPerSec(), s.MBPerSec)
	}
	var buf bytes.Buffer
	if err := res.Print(&buf); err != nil || !strings.Contains(buf.String(), "sustained") {
		t.Fatalf("print: %v\n%s", err, buf.String())
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{Records: 1},                       // no brokers
		{Brokers: []string{"127.0.0.1:1"}}, // unbounded
		{Brokers: []string{"127.0.0.1:1"}, Rate: -1, Records: 1},
		{Brokers: []string{"127.0.0.1:1"}, Records: 1, Acks: "2"},
	} {
		if _, err := Produce(ctx, cfg); err == nil {
			t.Fatalf("Produce accepted %+v", cfg)
		}
	}
	if _, err := EndToEnd(ctx, Config{Brokers: []string{"127.0.0.1:1"}, Records: 1, RecordSize: 7}); err == nil {
		t.Fatal("EndToEnd accepted records without room for a timestamp")
	}
}

// checkLatency checks a latency summary's count and ordering.
func checkLatency(t *testing.T, name string, s *LatencySummary, count int64) {
	t.Helper()
	if s == nil {
		t.Fatalf("%s latency missing", name)
	}
	if s.Count != count {
		t.Fatalf("%s latency count %d, want %d", name, s.Count, count)
	}
	if !(s.Min <= s.P50 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.P999 && s.P999 <= s.Max && s.Max > 0) {
		t.Fatalf("%s latency not ordered: %+v", name, s)
	}
	if s.Mean < s.Min || s.Mean > s.Max {
		t.Fatalf("%s mean %v outside [%v, %v]", name, s.Mean, s.Min, s.Max)
	}
}

func TestProduceConsumeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{
		Brokers:    testbroker.Start(t),
		Topic:      fmt.Sprintf("bench-test-%d", time.Now().UnixNano()),
		Partitions: 3,
		Replicas:   1,
		RecordSize: 50,
		Records:    500,
		Producers:  2,
		Linger:     time.Millisecond,
	}
	res, err := Produce(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "produce" || res.Records != 500 || res.Errors != 0 || res.Bytes != 500*50 {
		t.Fatalf("produce result %+v", res)
	}
	if res.RecordsPerSec <= 0 || res.MBPerSec <= 0 || res.Elapsed <= 0 {
		t.Fatalf("produce rates %+v", res)
	}
	checkLatency(t, "ack", res.Ack, 500)

	// The topic now holds 500 records plus one warm-up record per producer.
	cres, err := Consume(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cres.Mode != "consume" || cres.Records != 500 || cres.Bytes != 500*50 || cres.RecordsPerSec <= 0 {
		t.Fatalf("consume result %+v", cres)
	}
	cfg.Records = 0
	if all, err := Consume(ctx, cfg); err != nil || all.Records != 502 {
		t.Fatalf("consume everything: %+v, %v", all, err)
	}

	cfg.Records, cfg.Rate = 300, 5000
	eres, err := EndToEnd(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eres.Mode != "e2e" || eres.Records != 300 || eres.Produced != 300 || eres.Bytes != 300*50 {
		t.Fatalf("e2e result %+v", eres)
	}
	checkLatency(t, "ack", eres.Ack, 300)
	checkLatency(t, "end-to-end", eres.EndToEnd, 300)
	// At 5000 records/s, 300 records are scheduled over ~60ms.
	if eres.Elapsed < 55*time.Millisecond {
		t.Fatalf("rate-limited run took only %v", eres.Elapsed)
	}
	var buf bytes.Buffer
	if err := eres.Print(&buf); err != nil || !strings.Contains(buf.String(), "end-to-end") {
		t.Fatalf("print: %v\n%s", err, buf.String())
	}
}

func TestProduceDuration(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Produce(ctx, Config{
		Brokers:  testbroker.Start(t),
		Duration: 100 * time.Millisecond,
		Rate:     1000,
		Acks:     "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	// 100ms at 1000 records/s schedules records 0..99.
	if res.Records != 100 || res.Bytes != 100*100 {
		t.Fatalf("duration-bounded run: %+v", res)
	}
}

// BenchmarkProduce shows the package used from a Go benchmark: b.N records
// of 100 bytes with acks=all, against the test broker.
func BenchmarkProduce(b *testing.B) {
	cfg := Config{
		Brokers:    testbroker.Start(b),
		Topic:      "go-bench",
		Partitions: 1,
		Replicas:   1,
		Records:    int64(b.N),
	}
	b.ResetTimer()
	res, err := Produce(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.RecordsPerSec, "records/s")
	b.ReportMetric(res.MBPerSec, "MB/s")
	b.ReportMetric(float64(res.Ack.P99.Microseconds()), "p99-µs")
}

// TestTopicConfigsAtCreation: a run that creates its topic creates it with
// Config.TopicConfigs (bench all's no-fsync end-to-end phase relies on it).
func TestTopicConfigsAtCreation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{
		Brokers:      testbroker.Start(t),
		Topic:        fmt.Sprintf("bench-configs-%d", time.Now().UnixNano()),
		Partitions:   1,
		Replicas:     1,
		RecordSize:   20,
		Records:      50,
		Rate:         5000,
		Client:       ClientRaw,
		TopicConfigs: map[string]*string{"flush.messages": kadm.StringPtr(relaxedFlushMessages)},
	}
	res, err := EndToEnd(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 50 {
		t.Fatalf("e2e result %+v", res)
	}
	cl, err := cfg.withDefaults().newClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(cfg.Topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "flush.messages" {
			if c.MaybeValue() != relaxedFlushMessages || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
				t.Fatalf("flush.messages = %q (source %v), want %s set on the topic", c.MaybeValue(), c.Source, relaxedFlushMessages)
			}
			return
		}
	}
	t.Fatal("no flush.messages in the topic's configs")
}
