package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStandbyReplicas runs a count over 20k keys on two instances. With
// one standby replica, every task has a standby on the other instance
// whose store converges to the active store. Then a's standbys of b's
// tasks stop following while b updates 100 keys, and b is killed
// mid-stream: a takes b's tasks over on the standbys' own stores,
// restoring only the changelog tail after the standbys' positions (a
// count of offsets: at least what b wrote after the pause, under a tenth
// of the changelog), and the final counts equal the reference (exactly,
// in exactly-once mode). Without standbys the same takeover restores the
// whole changelog. EDDY_STANDBY_KEYS=N runs it with N keys (the log says
// how long the takeover took).
func TestStandbyReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers and several app instances")
	}
	for _, c := range []struct {
		backend  string
		eos      bool
		pebble   bool
		replicas int
	}{
		{"eddy", false, false, 1},
		{"eddy", true, true, 1},
		{"eddy", false, true, 0},
		{"kfake-3-brokers", true, false, 1},
		{"kfake-3-brokers", false, false, 0},
	} {
		mode, stores := "at-least-once", "memory"
		if c.eos {
			mode = "exactly-once"
		}
		if c.pebble {
			stores = "pebble"
		}
		name := fmt.Sprintf("%s/%s/%s/standbys=%d", c.backend, mode, stores, c.replicas)
		t.Run(name, func(t *testing.T) { standbyTakeover(t, testBackends[c.backend](t), c.eos, c.pebble, c.replicas) })
	}
}

func standbyTakeover(t *testing.T, seeds []string, eos, pebble bool, replicas int) {
	const parts = 4
	keys := 20000
	if n, err := strconv.Atoi(os.Getenv("EDDY_STANDBY_KEYS")); err == nil && n > 0 {
		keys = n // a bigger state, to time takeovers
	}
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, topic := range []string{"events", "counts"} {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBuilder()
	From(b, "events", serde.String, serde.String).GroupByKey().Count(Named("n")).ToStream().To("counts")
	top, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	start := func(name string) *testInstance {
		opts := []AppOption{CommitInterval(100 * time.Millisecond), StandbyReplicas(replicas)}
		if eos {
			opts = append(opts, ExactlyOnce())
		}
		if pebble {
			opts = append(opts, StateDir(t.TempDir()))
		}
		return startInstance(t, top, seeds, "sb", name, opts...)
	}
	ref := map[string]int64{}
	produce := func(n, from, keys int) {
		t.Helper()
		rs := make([]*kgo.Record, 0, n)
		for i := 0; i < n; i++ {
			k := fmt.Sprint("k", from+i%keys)
			ref[k]++
			rs = append(rs, &kgo.Record{Topic: "events", Key: []byte(k), Value: []byte("x")})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// states counts an instance's tasks by state.
	states := func(in *testInstance) map[TaskState]int {
		m := map[TaskState]int{}
		for _, s := range in.app.TaskMetrics() {
			m[s.State]++
		}
		return m
	}

	a := start("a")
	waitFor(t, "a to run every task", func() bool { return states(a)[TaskRunning] == parts })
	bi := start("b")
	want := map[TaskState]int{TaskRunning: parts / 2}
	if replicas > 0 {
		want[TaskStandby] = parts / 2
	}
	waitFor(t, "the tasks to split", func() bool { return maps.Equal(states(a), want) && maps.Equal(states(bi), want) })

	// Processed and committed: the changelogs hold the state.
	committed := func() bool {
		ends, err := adm.ListEndOffsets(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		committed, err := adm.FetchOffsets(ctx, "sb")
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := committed.Lookup("events", o.Partition); !ok || c.At < o.Offset {
				done = false
			}
		})
		return done
	}
	// A large state: one count per key.
	produce(keys, 0, keys)
	waitFor(t, "the records to be committed", committed)
	owners := map[*testInstance][]taskKey{}
	for _, in := range []*testInstance{a, bi} {
		for _, s := range in.app.TaskMetrics() {
			if s.State == TaskRunning {
				var k taskKey
				fmt.Sscanf(s.ID, "%d_%d", &k.sub, &k.partition)
				owners[in] = append(owners[in], k)
			}
		}
	}
	if replicas > 0 {
		// Every task's standby, on the other instance, converges to the
		// active store: same keys, same values.
		for _, pair := range [][2]*testInstance{{a, bi}, {bi, a}} {
			for _, k := range owners[pair[0]] {
				var active, standby map[string]string
				waitFor(t, fmt.Sprintf("the standby of %s to converge", taskID(k)), func() bool {
					active, standby = pair[0].app.activeStore(k, "n"), pair[1].app.standbyStore(k, "n")
					return len(active) > 0 && maps.Equal(active, standby)
				})
				t.Logf("task %s: standby holds the %d keys of the active store", taskID(k), len(standby))
			}
		}
		waitFor(t, "standby lag 0", func() bool {
			for _, in := range []*testInstance{a, bi} {
				for _, s := range in.app.TaskMetrics() {
					if s.State == TaskStandby && (s.Lag != 0 || s.Processed == 0) {
						return false
					}
				}
			}
			return true
		})
	}

	// The changelog of the tasks b owns.
	changelogEnds := func() map[taskKey]int64 {
		ends, err := adm.ListEndOffsets(ctx, "sb-n-changelog")
		if err != nil {
			t.Fatal(err)
		}
		out := map[taskKey]int64{}
		for _, k := range owners[bi] {
			o, _ := ends.Lookup("sb-n-changelog", k.partition)
			out[k] = o.Offset
		}
		return out
	}
	converged := changelogEnds()
	var total int64
	for _, n := range converged {
		total += n
	}
	if total < int64(keys/4) {
		t.Fatalf("changelog of b's tasks holds %d records, want a large state", total)
	}

	// a's standbys of b's tasks stop following (their positions stay at
	// the converged ends) while b updates 100 keys: the tail a restores
	// when it takes over. Keep their stores to compare after.
	warm := map[taskKey]state.Store{}
	if replicas > 0 {
		paused := map[string][]int32{}
		a.app.sb.mu.Lock()
		for _, k := range owners[bi] {
			warm[k] = a.app.sb.tasks[k].stores["n"]
			paused["sb-n-changelog"] = append(paused["sb-n-changelog"], k.partition)
		}
		a.app.sb.cl.PauseFetchPartitions(paused)
		a.app.sb.mu.Unlock()
	}
	produce(1000, 0, 100)
	waitFor(t, "the records to be committed", committed)
	var tail int64
	for k, n := range changelogEnds() {
		tail += n - converged[k]
	}
	if tail == 0 {
		t.Fatal("b's changelog did not grow")
	}

	// Kill b while records flow, then more records.
	restoredBefore := a.app.Metrics().RestoredRecords.Load()
	produce(1000, 100, 100)
	killed := time.Now()
	bi.app.killed.Store(true)
	if err := <-bi.done; !errors.Is(err, errKilled) {
		t.Fatalf("killed instance returned %v", err)
	}
	produce(1000, 200, 100)
	waitFor(t, "a to run every task", func() bool { return states(a)[TaskRunning] == parts })
	t.Logf("a ran every task %v after b was killed", time.Since(killed).Round(time.Millisecond))
	if replicas > 0 {
		// Promotion kept the standby's store: the same object (memory) or
		// the same open Pebble database in the same directory.
		a.app.mu.Lock()
		for k, st := range warm {
			if got := a.app.mu.tasks[k].stores["n"].backing(); got != st {
				t.Errorf("task %s runs on store %p, its standby kept %p", taskID(k), got, st)
			}
		}
		a.app.mu.Unlock()
	}
	var restored, restoreTotal int64
	for _, s := range a.app.TaskMetrics() {
		var k taskKey
		fmt.Sscanf(s.ID, "%d_%d", &k.sub, &k.partition)
		if _, ok := converged[k]; ok {
			restored += s.Restored
			restoreTotal += s.RestoreTotal
			t.Logf("task %s taken over: restored %d changelog offsets", s.ID, s.Restored)
		}
	}
	t.Logf("restored %d of b's %d changelog offsets (tail written after the standbys paused: %d); a applied %d changelog records in restores in all",
		restored, total+tail, tail, a.app.Metrics().RestoredRecords.Load()-restoredBefore)
	if restored != restoreTotal {
		t.Errorf("restored %d of %d", restored, restoreTotal)
	}
	if replicas > 0 && (restored < tail || restored*10 >= total) {
		t.Errorf("with standbys, the takeover restored %d changelog offsets of %d: not the tail of %d (or more written by b before it died)",
			restored, total+tail, tail)
	}
	if replicas == 0 && restored < total+tail {
		t.Errorf("without standbys, the takeover restored %d changelog offsets of %d: less than all", restored, total+tail)
	}

	// The counts are right: exactly in exactly-once mode, never low.
	var got map[string]int64
	waitFor(t, "the final counts", func() bool {
		got = lastKeyCounts(t, seeds, "counts")
		for k, n := range ref {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	wrong := 0
	for k, n := range ref {
		if got[k] < n || eos && got[k] != n {
			if wrong++; wrong <= 5 {
				t.Errorf("%s: count %d, reference %d", k, got[k], n)
			}
		}
	}
	if len(got) != len(ref) || wrong > 0 {
		t.Errorf("%d keys in the output, %d in the reference, %d wrong", len(got), len(ref), wrong)
	}
}

// lastKeyCounts reads the committed output topic and returns the last
// count of each key.
func lastKeyCounts(t *testing.T, seeds []string, topic string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range readCommitted(t, seeds, topic) {
		n, err := serde.Int64.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[string(r.Key)] = n
	}
	return out
}

// activeStore returns the content of store name of task k if it runs
// here (what its backing store holds: flushed updates).
func (a *App) activeStore(k taskKey, name string) map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.mu.tasks[k]; t != nil {
		return storeContent(t.stores[name].backing())
	}
	return nil
}

// standbyStore returns the content of store name of the standby of k.
func (a *App) standbyStore(k taskKey, name string) map[string]string {
	a.sb.mu.Lock()
	defer a.sb.mu.Unlock()
	if st := a.sb.tasks[k]; st != nil {
		return storeContent(st.stores[name])
	}
	return nil
}

func storeContent(s state.Store) map[string]string {
	m := map[string]string{}
	s.Range(nil, nil, func(k, v []byte) bool {
		m[string(k)] = string(v)
		return true
	})
	return m
}
