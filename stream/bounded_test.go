package stream_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnProducer returns a transactional producer writing to the partitions
// the records name.
func txnProducer(t *testing.T, seeds []string, id string) *kgo.Client {
	t.Helper()
	return client(t, seeds, kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// inTxn runs a transaction of cl writing values to topic/partition, and
// commits or aborts it; with end == nil the transaction stays open (its
// records are written and acknowledged).
func inTxn(t *testing.T, cl *kgo.Client, topic string, partition int32, end *kgo.TransactionEndTry, values ...string) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if end != nil {
		if err := cl.EndTransaction(ctx, *end); err != nil {
			t.Fatal(err)
		}
	}
}

func produceTo(t *testing.T, cl *kgo.Client, topic string, partition int32, values ...string) {
	t.Helper()
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// values returns the sorted values of the committed records of topic.
func values(t *testing.T, seeds []string, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range readAll(t, seeds, topic) {
		out = append(out, string(r.Value))
	}
	sort.Strings(out)
	return out
}

// committedOffsets returns the group's committed offsets of topic by
// partition.
func committedOffsets(t *testing.T, seeds []string, group, topic string) map[int32]int64 {
	t.Helper()
	offs, err := kadm.NewClient(client(t, seeds)).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

func copyTopology(t *testing.T, from, to string) *stream.Topology {
	b := stream.NewBuilder()
	stream.From(b, from, serde.String, serde.String).To(to)
	return build(t, b)
}

var (
	commitTxn = func() *kgo.TransactionEndTry { e := kgo.TryCommit; return &e }()
	abortTxn  = func() *kgo.TransactionEndTry { e := kgo.TryAbort; return &e }()
)

// A bounded run ends when the inputs end in transaction markers: partition
// 0 ends with an aborted transaction, partition 1 with a committed one.
// Exactly-once reads committed data only; at-least-once reads uncommitted
// data (as Kafka Streams does), aborted records included. Either way the
// run commits the offsets past the markers.
func TestIntegrationBoundedTransactionMarkersAtTheEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "tx-in", 2)
		createTopic(t, seeds, "tx-out-eos", 2)
		createTopic(t, seeds, "tx-out-alo", 2)
		cl := client(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		produceTo(t, cl, "tx-in", 0, "a", "b")
		inTxn(t, txnProducer(t, seeds, "p-abort"), "tx-in", 0, abortTxn, "x1", "x2")
		inTxn(t, txnProducer(t, seeds, "p-commit"), "tx-in", 1, commitTxn, "c", "d")
		ends := map[int32]int64{0: 5, 1: 3} // 2 records + 2 aborted + marker; 2 records + marker
		for _, mode := range []struct {
			name string
			opts []stream.AppOption
			want []string
		}{
			{"eos", []stream.AppOption{stream.ExactlyOnce()}, []string{"a", "b", "c", "d"}},
			{"alo", nil, []string{"a", "b", "c", "d", "x1", "x2"}},
		} {
			out := "tx-out-" + mode.name
			runApp(t, copyTopology(t, "tx-in", out), seeds, append(mode.opts, stream.AppID("markers-"+mode.name), stream.StopAtEnd())...)
			equal(t, values(t, seeds, out), mode.want)
			equal(t, committedOffsets(t, seeds, "markers-"+mode.name, "tx-in"), ends)
		}
	})
}

// An exactly-once bounded run over an input with a transaction still open
// stops at the last stable offset (where the open transaction begins)
// instead of waiting for it; on partition 1 the records below the last
// stable offset are all aborted (their abort marker is after it). A later
// run, after the transaction committed, takes the rest: nothing is lost
// or read twice. At-least-once reads up to the high watermark.
func TestIntegrationBoundedOpenTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		createTopic(t, seeds, "open-in", 2)
		for _, o := range []string{"open-out-eos", "open-out-alo"} {
			createTopic(t, seeds, o, 1)
		}
		cl := client(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		produceTo(t, cl, "open-in", 0, "a", "b")
		open, aborted := txnProducer(t, seeds, "p-open"), txnProducer(t, seeds, "p-aborted")
		inTxn(t, aborted, "open-in", 1, nil, "q1")                                         // p1 offset 0, open for now
		inTxn(t, open, "open-in", 1, nil, "p1")                                            // p1 offset 1: the last stable offset stays at 1
		produceTo(t, open, "open-in", 0, "x")                                              // p0 offset 2, same open transaction
		if err := aborted.EndTransaction(context.Background(), kgo.TryAbort); err != nil { // p1 offset 2: abort marker
			t.Fatal(err)
		}

		runApp(t, copyTopology(t, "open-in", "open-out-eos"), seeds, stream.AppID("open-eos"), stream.ExactlyOnce(), stream.StopAtEnd())
		equal(t, values(t, seeds, "open-out-eos"), []string{"a", "b"})
		equal(t, committedOffsets(t, seeds, "open-eos", "open-in"), map[int32]int64{0: 2, 1: 1})

		runApp(t, copyTopology(t, "open-in", "open-out-alo"), seeds, stream.AppID("open-alo"), stream.StopAtEnd())
		equal(t, values(t, seeds, "open-out-alo"), []string{"a", "b", "p1", "q1", "x"})
		equal(t, committedOffsets(t, seeds, "open-alo", "open-in"), map[int32]int64{0: 3, 1: 3})

		if err := open.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		runApp(t, copyTopology(t, "open-in", "open-out-eos"), seeds, stream.AppID("open-eos"), stream.ExactlyOnce(), stream.StopAtEnd())
		equal(t, values(t, seeds, "open-out-eos"), []string{"a", "b", "p1", "x"})
		equal(t, committedOffsets(t, seeds, "open-eos", "open-in"), map[int32]int64{0: 4, 1: 4})
	})
}

// A bounded run commits exactly where it stopped, not where the consumer
// happened to fetch to: a run over a time range, then a run to the end
// with the same AppID, together take every record once.
func TestIntegrationBoundedRunsResume(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		for _, mode := range []struct {
			name string
			opts []stream.AppOption
		}{{"alo", nil}, {"eos", []stream.AppOption{stream.ExactlyOnce()}}} {
			in, out := "resume-in-"+mode.name, "resume-out-"+mode.name
			createTopic(t, seeds, in, 1)
			createTopic(t, seeds, out, 1)
			cl := client(t, seeds)
			base := time.UnixMilli(1_700_000_000_000)
			var rs []*kgo.Record
			for i := 0; i < 40; i++ {
				rs = append(rs, &kgo.Record{Topic: in, Value: []byte(fmt.Sprintf("%02d", i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
			}
			if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			top := copyTopology(t, in, out)
			id := stream.AppID("resume-" + mode.name)
			runApp(t, top, seeds, append(mode.opts, id, stream.TimeRange(base, base.Add(20*time.Second)))...)
			equal(t, committedOffsets(t, seeds, "resume-"+mode.name, in), map[int32]int64{0: 20})
			runApp(t, top, seeds, append(mode.opts, id, stream.StopAtEnd())...)
			var want []string
			for i := 0; i < 40; i++ {
				want = append(want, fmt.Sprintf("%02d", i))
			}
			equal(t, values(t, seeds, out), want)
			// A range the group already went past: nothing to do, and
			// the committed offsets do not go back.
			runApp(t, top, seeds, append(mode.opts, id, stream.TimeRange(base, base.Add(20*time.Second)))...)
			equal(t, committedOffsets(t, seeds, "resume-"+mode.name, in), map[int32]int64{0: 40})
			equal(t, values(t, seeds, out), want)
		}
	})
}

// The windows still open when a bounded run's input ends are closed and
// emitted (EmitFinal) before the run commits and returns, through
// repartition topics too: sessions per user in the source's
// sub-topology; clicks per product and 10s window behind a repartition;
// clicks per window (a sum of the per-product counts) behind a second
// one, which must end after the first sent its last windows. A second run
// with nothing new emits nothing more.
func TestIntegrationBoundedRunEmitsOpenWindows(t *testing.T) {
	eachBackend(t, func(t *testing.T, seeds []string) {
		for _, mode := range []struct {
			name      string
			opts      []stream.AppOption
			instances int
		}{
			{"alo", nil, 1},
			{"eos", []stream.AppOption{stream.ExactlyOnce()}, 1},
			{"eos-2-instances", []stream.AppOption{stream.ExactlyOnce()}, 2},
		} {
			t.Run(mode.name, func(t *testing.T) {
				in, sessions, totals := "clicks-"+mode.name, "sessions-"+mode.name, "totals-"+mode.name
				createTopic(t, seeds, in, 4)
				createTopic(t, seeds, sessions, 2)
				createTopic(t, seeds, totals, 2)
				b := stream.NewBuilder()
				clicks := stream.From(b, in, serde.String, serde.String) // user -> product
				stream.WindowedBy(clicks.GroupByKey(), stream.SessionWindows(5*time.Second)).EmitFinal().
					Count(stream.Named("sessions")).ToStream().
					To(sessions)
				byProduct := stream.GroupBy(clicks, func(_, p string) string { return p }, serde.String)
				// Grace: records of different input partitions interleave in
				// the repartition topics.
				perProduct := stream.WindowedBy(byProduct, stream.TumblingWindows(10*time.Second).Grace(time.Minute)).EmitFinal().
					Count(stream.Named("per-product")).ToStream()
				perWindow := stream.Map(perProduct, func(k stream.Windowed[string], n int64) (string, int64) { return fmt.Sprint(k.Start), n }).
					WithSerdes(serde.String, serde.Int64)
				stream.WindowedBy(perWindow.GroupByKey(), stream.TumblingWindows(time.Minute).Grace(time.Minute)).EmitFinal().
					Reduce(func(a, b int64) int64 { return a + b }, stream.Named("totals")).ToStream().
					To(totals)
				top := build(t, b)

				cl := client(t, seeds)
				var rs []*kgo.Record
				// user u0 clicks at 0,2,4 s; u1 at 1,3 s then 20 s; u2 at 21 s.
				for _, c := range []struct {
					user, product string
					at            int64
				}{{"u0", "p0", 0}, {"u1", "p1", 1}, {"u0", "p1", 2}, {"u1", "p0", 3}, {"u0", "p0", 4}, {"u1", "p1", 20}, {"u2", "p2", 21}} {
					rs = append(rs, &kgo.Record{Topic: in, Key: []byte(c.user), Value: []byte(c.product), Timestamp: time.UnixMilli(c.at * 1000)})
				}
				if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				id := stream.AppID("windows-" + mode.name)
				// Instances of one bounded run end their own tasks; the
				// group's commits tell each when the tasks upstream ended.
				var wg sync.WaitGroup
				for range mode.instances {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := runAppErr(t, top, seeds, append(mode.opts, id, stream.StopAtEnd())...); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if t.Failed() {
					return
				}

				if dl := readAll(t, seeds, "windows-"+mode.name+"-dlq"); len(dl) != 0 {
					t.Fatalf("%d dead letters (late records?): %v", len(dl), headers(dl[0]))
				}
				// Sessions and windows that stream time did not close (the
				// last ones) are emitted at the end of the input.
				gotSessions := windowedRows(t, seeds, sessions, func(k stream.Windowed[string], n int64) string {
					return fmt.Sprintf("%s@%d-%d=%d", k.Key, k.Start/1000, k.End/1000, n)
				})
				equal(t, sortedStrings(gotSessions), "u0@0-4=3 u1@1-3=2 u1@20-20=1 u2@21-21=1")
				gotTotals := windowedRows(t, seeds, totals, func(k stream.Windowed[string], n int64) string {
					return fmt.Sprintf("%s=%d", k.Key, n)
				})
				equal(t, sortedStrings(gotTotals), "0=5 20000=2")

				runApp(t, top, seeds, append(mode.opts, id, stream.StopAtEnd())...)
				if n := len(readAll(t, seeds, sessions)) + len(readAll(t, seeds, totals)); n != len(gotSessions)+len(gotTotals) {
					t.Fatalf("a second run with nothing new emitted %d more", n-len(gotSessions)-len(gotTotals))
				}
			})
		}
	})
}

// windowedRows formats the records of topic, windowed counts.
func windowedRows(t *testing.T, seeds []string, topic string, format func(stream.Windowed[string], int64) string) []string {
	t.Helper()
	var out []string
	for _, r := range readAll(t, seeds, topic) {
		k, err := stream.WindowedSerde(serde.String).Decode(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := serde.Int64.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, format(k, n))
	}
	return out
}
