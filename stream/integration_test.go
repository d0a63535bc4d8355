package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/testbroker"
	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// backend is a Kafka-protocol cluster for the integration suite: the same
// tests run against Eddy and against franz-go's kfake with three brokers,
// so the library depends only on the protocol.
type backend struct {
	name  string
	start func(t *testing.T) []string
}

var backends = []backend{
	{"eddy", func(t *testing.T) []string { return []string{testbroker.Start(t).Addr()} }},
	{"kfake-3-brokers", func(t *testing.T) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}},
}

func eachBackend(t *testing.T, f func(t *testing.T, seeds []string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.start(t)) })
	}
}

func client(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, seeds []string, name string, parts int32) {
	t.Helper()
	adm := kadm.NewClient(client(t, seeds))
	resp, err := adm.CreateTopic(context.Background(), parts, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
}

func produce(t *testing.T, cl *kgo.Client, topic string, kvs ...string) {
	t.Helper()
	var rs []*kgo.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll returns every committed record of topic, up to its end offsets
// at the time of the call.
func readAll(t *testing.T, seeds []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, seeds))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl := client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (still waiting for %v)", topic, err, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

func lastCounts(t *testing.T, rs []*kgo.Record) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, r := range rs {
		n, err := serde.Int64.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if n > m[string(r.Key)] {
			m[string(r.Key)] = n
		}
	}
	return m
}

func runApp(t *testing.T, top *stream.Topology, seeds []string, opts ...stream.AppOption) {
	t.Helper()
	if err := runAppErr(t, top, seeds, opts...); err != nil {
		t.Fatal(err)
	}
}

// runAppErr runs an app (for up to 60s) and returns what went wrong; it
// may be called from any goroutine.
func runAppErr(t *testing.T, top *stream.Topology, seeds []string, opts ...stream.AppOption) error {
	app, err := stream.NewApp(top, append([]stream.AppOption{stream.Brokers(seeds...), stream.Logger(testbroker.Logger(t)),
		stream.CommitInterval(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Run returns nil when its context ends too: a bounded run that never
	// ends by itself must not pass.
	if err := app.Run(ctx); err != nil || ctx.Err() != nil {
		return fmt.Errorf("run: %v (context: %v)", err, ctx.Err())
	}
	return nil
}

func TestIntegrationWordCountBoundedRestoreAndDeadLetters(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "lines", 3)
		createTopic(t, seeds, "counts", 3)
		cl := client(t, seeds)
		produce(t, cl, "lines", "a", "the cat", "b", "the hat", "c", "a cat")
		ref := map[string]int64{"the": 2, "cat": 2, "hat": 1, "a": 1}
		runApp(t, wordCount(t), seeds, stream.AppID("wc"), stream.StopAtEnd())
		equal(t, lastCounts(t, readAll(t, seeds, "counts")), ref)

		// A second run starts where the group committed, with the counts
		// restored from the changelog topics.
		produce(t, cl, "lines", "d", "the end", "e", "cat")
		ref["the"], ref["end"], ref["cat"] = 3, 1, 3
		runApp(t, wordCount(t), seeds, stream.AppID("wc"), stream.StopAtEnd(), stream.StateDir(t.TempDir()))
		equal(t, lastCounts(t, readAll(t, seeds, "counts")), ref)

		// Changelog topics are compacted.
		adm := kadm.NewClient(cl)
		rc, err := adm.DescribeTopicConfigs(context.Background(), "wc-counts-changelog")
		if err != nil {
			t.Fatal(err)
		}
		c, err := rc.On("wc-counts-changelog", nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, kv := range c.Configs {
			if kv.Key == "cleanup.policy" && kv.MaybeValue() == "compact" {
				found = true
			}
		}
		if !found {
			t.Fatalf("changelog configs %v", c.Configs)
		}
	})
}

func TestIntegrationDeadLetters(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "nums", 2)
		createTopic(t, seeds, "out", 2)
		cl := client(t, seeds)
		produce(t, cl, "nums", "a", "12345678", "b", "short", "c", "abcdefgh")
		b := stream.NewBuilder()
		stream.From(b, "nums", serde.String, serde.Int64).To("out")
		runApp(t, build(t, b), seeds, stream.AppID("dl"), stream.StopAtEnd())
		if n := len(readAll(t, seeds, "out")); n != 2 {
			t.Fatalf("%d outputs", n)
		}
		dl := readAll(t, seeds, "dl-dlq")
		if len(dl) != 1 || string(dl[0].Value) != "short" || !strings.Contains(headers(dl[0])[stream.HeaderReason], "8 bytes") {
			t.Fatalf("dead letters: %v", dl)
		}
	})
}

func TestIntegrationExactlyOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "lines", 3)
		createTopic(t, seeds, "counts", 3)
		cl := client(t, seeds)
		var kvs []string
		ref := map[string]int64{}
		for i := 0; i < 200; i++ {
			w := fmt.Sprint("w", i%7)
			kvs = append(kvs, fmt.Sprint(i), w)
			ref[w]++
		}
		produce(t, cl, "lines", kvs...)
		runApp(t, wordCount(t), seeds, stream.AppID("eos"), stream.ExactlyOnce(), stream.StopAtEnd())
		out := readAll(t, seeds, "counts")
		equal(t, lastCounts(t, out), ref)
		if len(out) != 200 {
			t.Fatalf("%d count updates for 200 words: duplicates", len(out))
		}
	})
}

func TestIntegrationJoinsWithTables(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		for _, topic := range []string{"customers", "orders", "products", "enriched"} {
			createTopic(t, seeds, topic, 2)
		}
		cl := client(t, seeds)
		produce(t, cl, "customers", "c1", "ann", "c2", "bob")
		produce(t, cl, "products", "p1", "lamp", "p2", "desk")
		// orders: key order id, value "customer/product"
		produce(t, cl, "orders", "o1", "c1/p1", "o2", "c2/p2", "o3", "c3/p1")
		b := stream.NewBuilder()
		customers := stream.TableFrom(b, "customers", serde.String, serde.String)
		products := stream.GlobalTableFrom(b, "products", serde.String, serde.String)
		orders := stream.From(b, "orders", serde.String, serde.String)
		byCustomer := stream.SelectKey(orders, func(_ string, v string) string { return strings.Split(v, "/")[0] }).
			WithSerdes(serde.String, serde.String)
		withName := stream.LeftJoin(byCustomer, customers, func(_ string, v, name string, ok bool) string {
			if !ok {
				name = "?"
			}
			return name + "/" + strings.Split(v, "/")[1]
		})
		stream.JoinGlobal(withName, products, func(_ string, v string) string { return strings.Split(v, "/")[1] },
			func(_ string, v, product string) string { return strings.Split(v, "/")[0] + " bought a " + product }).
			WithSerdes(serde.String, serde.String).To("enriched")
		runApp(t, build(t, b), seeds, stream.AppID("joins"), stream.StopAtEnd())
		got := map[string]string{}
		for _, r := range readAll(t, seeds, "enriched") {
			got[string(r.Key)] = string(r.Value)
		}
		equal(t, got, map[string]string{"c1": "ann bought a lamp", "c2": "bob bought a desk", "c3": "? bought a lamp"})
	})
}

// A cluster without transactions gets a clear error in exactly-once mode,
// before anything is consumed.
func TestIntegrationExactlyOnceNeedsTransactions(t *testing.T) {
	v := kversion.V3_0_0()
	for _, k := range []int16{24, 25, 26, 28} { // AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit
		v.SetMaxKeyVersion(k, -1)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.MaxVersions(v))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := c.ListenAddrs()
	createTopic(t, seeds, "lines", 1)
	createTopic(t, seeds, "counts", 1)
	app, err := stream.NewApp(wordCount(t), stream.AppID("no-txn"), stream.Brokers(seeds...), stream.ExactlyOnce(),
		stream.Logger(testbroker.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Run(ctx); !errors.Is(err, stream.ErrTransactionsUnsupported) {
		t.Fatalf("Run: %v", err)
	}
}

// TimeRange reprocesses a slice of history as a batch: only the records
// with timestamps in [from, to) are taken, then Run returns.
func TestIntegrationTimeRange(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "events", 2)
		createTopic(t, seeds, "picked", 2)
		cl := client(t, seeds)
		base := time.UnixMilli(1_700_000_000_000)
		var rs []*kgo.Record
		for i := 0; i < 40; i++ {
			rs = append(rs, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint("k", i%5)), Value: []byte(fmt.Sprint(i)),
				Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		b := stream.NewBuilder()
		stream.From(b, "events", serde.String, serde.String).To("picked")
		runApp(t, build(t, b), seeds, stream.AppID("range"),
			stream.TimeRange(base.Add(10*time.Second), base.Add(20*time.Second)))
		var got []string
		for _, r := range readAll(t, seeds, "picked") {
			got = append(got, string(r.Value))
		}
		sort.Slice(got, func(i, j int) bool { return len(got[i]) < len(got[j]) || len(got[i]) == len(got[j]) && got[i] < got[j] })
		equal(t, got, []string{"10", "11", "12", "13", "14", "15", "16", "17", "18", "19"})
	})
}

// With OnError(Stop), a record that fails makes Run return the error, and
// its offset is not committed.
func TestIntegrationStopOnError(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "nums", 1)
		createTopic(t, seeds, "out", 1)
		produce(t, client(t, seeds), "nums", "a", "12345678", "b", "bad")
		b := stream.NewBuilder()
		stream.From(b, "nums", serde.String, serde.Int64).To("out")
		app, err := stream.NewApp(build(t, b), stream.AppID("stop"), stream.Brokers(seeds...), stream.OnError(stream.Stop),
			stream.Logger(testbroker.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Run(ctx); err == nil || !strings.Contains(err.Error(), "deserialize") {
			t.Fatalf("Run: %v", err)
		}
		offs, err := kadm.NewClient(client(t, seeds)).FetchOffsets(context.Background(), "stop")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup("nums", 0); ok && o.At > 1 {
			t.Fatalf("committed past the failed record: %d", o.At)
		}
	})
}

// A bounded run ends even when input partitions hold nothing in range: an
// empty topic, and a partition whose records were all deleted (log start ==
// end, both above zero).
func TestIntegrationStopAtEndEmptyPartitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "empty", 2)
		createTopic(t, seeds, "gone", 1)
		createTopic(t, seeds, "out", 2)
		cl := client(t, seeds)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "gone", Partition: 0, Value: []byte("x")},
			&kgo.Record{Topic: "gone", Partition: 0, Value: []byte("y")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(cl)
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "gone", Partition: 0, At: 2})
		del, err := adm.DeleteRecords(context.Background(), os)
		if err == nil {
			err = del.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"empty", "gone"} {
			b := stream.NewBuilder()
			stream.From(b, topic, serde.String, serde.String).To("out")
			runApp(t, build(t, b), seeds, stream.AppID("bounded-"+topic), stream.StopAtEnd())
			runApp(t, build(t, b), seeds, stream.AppID("range-"+topic),
				stream.TimeRange(time.UnixMilli(0), time.Now().Add(time.Hour)))
		}
		if n := len(readAll(t, seeds, "out")); n != 0 {
			t.Fatalf("%d outputs from empty inputs", n)
		}
	})
}

// runUntil runs app until cond holds on its task metrics (checked every
// 20ms, for up to 30s), then stops it and returns the metrics that held.
func runUntil(t *testing.T, app *stream.App, cond func([]stream.TaskStats) bool) []stream.TaskStats {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if ts := app.TaskMetrics(); len(ts) != 0 {
			t.Errorf("tasks after Run returned: %+v", ts)
		}
	}()
	deadline := time.After(30 * time.Second)
	for {
		ts := app.TaskMetrics()
		if cond(ts) {
			return ts
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run ended: %v; tasks %+v", err, ts)
		case <-deadline:
			t.Fatalf("tasks never got there: %+v", ts)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Per-task counters: records, dead letters and latency move in the task
// that took the records; a restarted instance restores every changelog
// offset before its tasks run.
func TestIntegrationTaskMetrics(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "nums", 2)
		createTopic(t, seeds, "sums", 2)
		cl := client(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var rs []*kgo.Record
		for i, v := range []string{"12345678", "short", "abcdefgh", "87654321", "bad"} {
			rs = append(rs, &kgo.Record{Topic: "nums", Partition: int32(i % 2), Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		top := func() *stream.Topology {
			b := stream.NewBuilder()
			stream.From(b, "nums", serde.String, serde.Int64).GroupByKey().Count(stream.Named("n")).ToStream().To("sums")
			return build(t, b)
		}
		newApp := func() *stream.App {
			app, err := stream.NewApp(top(), stream.AppID("tm"), stream.Brokers(seeds...), stream.Logger(testbroker.Logger(t)),
				stream.CommitInterval(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			return app
		}
		// Partition 0 holds 3 records (1 bad), partition 1 holds 2 (1 bad).
		want := map[string][2]int64{"0_0": {3, 1}, "0_1": {2, 1}}
		ts := runUntil(t, newApp(), func(ts []stream.TaskStats) bool {
			var n int64
			for _, s := range ts {
				n += s.Processed
			}
			return len(ts) == 2 && n == 5
		})
		for _, s := range ts {
			if w, ok := want[s.ID]; !ok || s.Processed != w[0] || s.DeadLettered != w[1] || s.Errors != w[1] ||
				s.State != stream.TaskRunning || s.Latency.Count == 0 || s.Latency.Sum <= 0 {
				t.Errorf("task %+v, want processed/dead-lettered %v", s, w)
			}
		}
		// The changelog holds the counts of the 3 good keys (maybe more
		// updates); a new instance restores all of it.
		ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "tm-n-changelog")
		if err != nil {
			t.Fatal(err)
		}
		changelog := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) { changelog[fmt.Sprint("0_", o.Partition)] = o.Offset })
		ts = runUntil(t, newApp(), func(ts []stream.TaskStats) bool {
			return len(ts) == 2 && ts[0].State == stream.TaskRunning && ts[1].State == stream.TaskRunning
		})
		var total int64
		for _, s := range ts {
			total += s.RestoreTotal
			if s.RestoreTotal != changelog[s.ID] || s.Restored != s.RestoreTotal || s.Processed != 0 {
				t.Errorf("task %+v after restore; changelog end offset %d", s, changelog[s.ID])
			}
		}
		if total < 3 {
			t.Errorf("restored %d changelog records in all, want at least 3", total)
		}
	})
}
