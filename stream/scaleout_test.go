package stream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/testbroker"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScaleOut runs a windowed count on one instance, starts a second and
// a third mid-stream, kills the second (no commit, no flush, no goodbye
// beyond leaving the group), and checks the final counts against a
// reference computed from the input: exactly equal in exactly-once mode,
// never lower in at-least-once mode.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers and several app instances")
	}
	for _, name := range []string{"eddy", "kfake-3-brokers"} {
		for _, eos := range []bool{true, false} {
			mode := "at-least-once"
			if eos {
				mode = "exactly-once"
			}
			t.Run(name+"/"+mode, func(t *testing.T) { scaleOut(t, testBackends[name](t), eos) })
		}
	}
}

// testBackends start the clusters the runtime's tests run against: Eddy,
// and franz-go's kfake with three brokers (the library depends only on
// the Kafka protocol).
var testBackends = map[string]func(t *testing.T) []string{
	"eddy": func(t *testing.T) []string { return []string{testbroker.Start(t).Addr()} },
	"kfake-3-brokers": func(t *testing.T) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	},
}

// testInstance is an App running in the background for a test.
type testInstance struct {
	app  *App
	done chan error // Run's result
	stop context.CancelFunc
}

// startInstance runs an instance of application id (its logs tagged with
// name) until the test ends or stop is called. The client options make a
// killed instance's group session and transactions expire in seconds.
func startInstance(t *testing.T, top *Topology, seeds []string, id, name string, opts ...AppOption) *testInstance {
	opts = append([]AppOption{AppID(id), Brokers(seeds...), Logger(testbroker.Logger(t).With("instance", name)),
		ClientOptions(kgo.TransactionTimeout(3*time.Second), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))},
		opts...)
	app, err := NewApp(top, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &testInstance{app: app, done: make(chan error, 1), stop: cancel}
	finished := make(chan struct{})
	go func() {
		in.done <- app.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return in
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scaleOutTopology(t *testing.T) *Topology {
	b := NewBuilder()
	events := From(b, "events", serde.String, serde.String)
	// Rekey (user-N -> group-M) so the count goes through a repartition
	// topic, then count per group and 1 s window.
	byGroup := SelectKey(events, func(k, v string) string { return v }).WithSerdes(serde.String, serde.String)
	WindowedBy(byGroup.GroupByKey(Named("by-group")), TumblingWindows(time.Second).Grace(time.Hour)).
		Count(Named("counts")).ToStream().WithSerdes(WindowedSerde(serde.String), serde.Int64).To("counts")
	top, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func scaleOut(t *testing.T, seeds []string, eos bool) {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, topic := range []string{"events", "counts"} {
		if _, err := adm.CreateTopic(ctx, 6, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	top := scaleOutTopology(t)
	start := func(name string) *testInstance {
		opts := []AppOption{CommitInterval(50 * time.Millisecond), StateDir(t.TempDir())}
		if eos {
			opts = append(opts, ExactlyOnce())
		}
		return startInstance(t, top, seeds, "scale", name, opts...)
	}
	// The input: users in groups, one record every 7 ms of event time.
	ref := map[string]int64{}
	var mu sync.Mutex
	next := 0
	base := int64(1_700_000_000_000)
	produce := func(n int) {
		var rs []*kgo.Record
		mu.Lock()
		for i := 0; i < n; i++ {
			user, group := fmt.Sprint("user-", next%50), fmt.Sprint("group-", next%7)
			ts := base + int64(next)*7
			rs = append(rs, &kgo.Record{Topic: "events", Key: []byte(user), Value: []byte(group), Timestamp: time.UnixMilli(ts)})
			start := ts - ts%1000
			ref[fmt.Sprintf("%s@%d", group, start)]++
			next++
		}
		mu.Unlock()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	processed := func(in *testInstance) int64 { return in.app.Metrics().RecordsProcessed.Load() }

	a := start("a")
	produce(800)
	waitFor(t, "a to process", func() bool { return processed(a) > 200 })
	b := start("b")
	waitFor(t, "b to get tasks", func() bool { return b.app.numTasks() > 0 })
	produce(800)
	waitFor(t, "b to process", func() bool { return processed(b) > 0 })
	c := start("c")
	waitFor(t, "c to get tasks", func() bool { return c.app.numTasks() > 0 })
	produce(800)
	waitFor(t, "c to process", func() bool { return processed(c) > 0 })
	b.app.killed.Store(true)
	if err := <-b.done; !errors.Is(err, errKilled) {
		t.Fatalf("killed instance returned %v", err)
	}
	produce(800)

	// Wait until the output holds the reference counts (or, at least once,
	// counts at least as high), then stop the survivors.
	var got map[string]int64
	waitFor(t, "the final counts", func() bool {
		got = lastWindowCounts(t, seeds)
		for k, want := range ref {
			if got[k] < want {
				return false
			}
		}
		return true
	})
	a.stop()
	c.stop()
	for _, in := range []*testInstance{a, c} {
		if err := <-in.done; err != nil {
			t.Fatalf("instance stopped with %v", err)
		}
	}
	got = lastWindowCounts(t, seeds)
	extra := 0
	for k, want := range ref {
		switch {
		case got[k] < want:
			t.Errorf("%s: count %d, reference %d (records lost)", k, got[k], want)
		case got[k] > want && eos:
			t.Errorf("%s: count %d, reference %d (records counted twice)", k, got[k], want)
		case got[k] > want:
			extra++
		}
	}
	if len(got) != len(ref) {
		t.Errorf("%d windows in the output, %d in the reference", len(got), len(ref))
	}
	t.Logf("%d windows checked; %d counted some records twice (allowed at least once)", len(ref), extra)
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		t.Logf("metrics a: %+v", a.app.Metrics())
	}
}

// lastWindowCounts reads the committed output and returns the last count
// of each window.
func lastWindowCounts(t *testing.T, seeds []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	ws := WindowedSerde(serde.String)
	for _, r := range readCommitted(t, seeds, "counts") {
		w, err := ws.Decode(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := serde.Int64.Decode(r.Value)
		out[fmt.Sprintf("%s@%d", w.Key, w.Start)] = n
	}
	return out
}

// readCommitted returns the committed records of topic, up to its last
// stable offsets at the time of the call.
func readCommitted(t *testing.T, seeds []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]kgo.Offset{}
	stop := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = kgo.NewOffset().AtStart()
			stop[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	rc, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []*kgo.Record
	for len(stop) > 0 {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := stop[r.Partition]; ok && r.Offset+1 >= end {
				delete(stop, r.Partition)
			}
		})
	}
	return out
}
