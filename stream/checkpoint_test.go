package stream

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCheckpointVerdict(t *testing.T) {
	id, other := [16]byte{1}, [16]byte{2}
	cp := state.Checkpoint{TopicID: id, Partition: 3, Offset: 100, Exact: true}
	with := func(f func(c *state.Checkpoint)) state.Checkpoint { c := cp; f(&c); return c }
	for _, c := range []struct {
		name       string
		cp         state.Checkpoint
		ok         bool
		err        error
		id         [16]byte
		start, end int64
		eos        bool
		trusted    bool
	}{
		{"exact", cp, true, nil, id, 0, 150, false, true},
		{"exact, exactly-once", cp, true, nil, id, 0, 150, true, true},
		{"at the end", cp, true, nil, id, 0, 100, true, true},
		{"at the start", cp, true, nil, id, 100, 150, true, true},
		{"topic ids unknown", with(func(c *state.Checkpoint) { c.TopicID = [16]byte{} }), true, nil, [16]byte{}, 0, 150, true, true},
		{"inexact, at least once", with(func(c *state.Checkpoint) { c.Exact = false }), true, nil, id, 0, 150, false, true},
		{"inexact, exactly-once", with(func(c *state.Checkpoint) { c.Exact = false }), true, nil, id, 0, 150, true, false},
		{"none", state.Checkpoint{}, false, nil, id, 0, 150, false, false},
		{"unreadable", state.Checkpoint{}, false, state.ErrBadCheckpoint, id, 0, 150, false, false},
		{"topic created again", cp, true, nil, other, 0, 150, false, false},
		{"other partition", with(func(c *state.Checkpoint) { c.Partition = 4 }), true, nil, id, 0, 150, false, false},
		{"after the end", cp, true, nil, id, 0, 99, false, false},
		{"before the start", cp, true, nil, id, 101, 150, false, false},
	} {
		reason := checkpointVerdict(c.cp, c.ok, c.err, c.id, 3, c.start, c.end, c.eos)
		if (reason == "") != c.trusted {
			t.Errorf("%s: trusted %v (%q), want %v", c.name, reason == "", reason, c.trusted)
		}
	}
}

// TestLocalStateCheckpoints runs a count over 20k keys (EDDY_CKPT_KEYS=N:
// N keys, to time restarts) with Pebble stores in a fixed state directory
// and restarts it on the same directory:
//
//   - after a clean close the stores restore nothing (at most the
//     transaction markers after the checkpoints), and counting goes on
//     from where it was;
//   - after a kill, with writes after the last commit in the store files
//     (Pebble flushed its memtables, then the process died), at least
//     once restores from the checkpoint, exactly-once restores in full
//     (the checkpoint is inexact); the counts equal the reference
//     (exactly, in exactly-once mode; never lower at least once);
//   - without a state directory every restart restores the whole
//     changelog.
func TestLocalStateCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and several app instances")
	}
	seeds := testBackends["eddy"](t)
	for _, eos := range []bool{false, true} {
		name := "at-least-once"
		if eos {
			name = "exactly-once"
		}
		t.Run(name, func(t *testing.T) { checkpointRestarts(t, seeds, eos) })
	}
	t.Run("no-state-dir", func(t *testing.T) { checkpointNoStateDir(t, seeds) })
	t.Run("untrusted", func(t *testing.T) { checkpointUntrusted(t, seeds) })
	t.Run("standbys", func(t *testing.T) { checkpointStandbys(t, seeds) })
}

const ckptParts = 4

// ckptKeys is how many keys the restart tests count first: 20k, or
// EDDY_CKPT_KEYS (a larger state, to time restarts).
func ckptKeys() int {
	if n, err := strconv.Atoi(os.Getenv("EDDY_CKPT_KEYS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// ckptRig is a count over one input topic, for restarts.
type ckptRig struct {
	t        *testing.T
	seeds    []string
	app      string // AppID, also the prefix of the topics
	top      *Topology
	cl       *kgo.Client
	adm      *kadm.Client
	ref      map[string]int64
	dir      string // state directory ("" = none)
	eos      bool
	changelg string
}

func newCkptRig(t *testing.T, seeds []string, app string, eos bool, dir string) *ckptRig {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r := &ckptRig{t: t, seeds: seeds, app: app, cl: cl, adm: kadm.NewClient(cl), ref: map[string]int64{}, dir: dir, eos: eos,
		changelg: app + "-n-changelog"}
	for _, topic := range []string{app + "-in", app + "-out"} {
		if _, err := r.adm.CreateTopic(context.Background(), ckptParts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBuilder()
	From(b, app+"-in", serde.String, serde.String).GroupByKey().Count(Named("n")).ToStream().To(app + "-out")
	if r.top, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *ckptRig) start(name string, opts ...AppOption) *testInstance {
	base := []AppOption{CommitInterval(100 * time.Millisecond)}
	if r.eos {
		base = append(base, ExactlyOnce())
	}
	if r.dir != "" {
		base = append(base, StateDir(r.dir))
	}
	return startInstance(r.t, r.top, r.seeds, r.app, name, append(base, opts...)...)
}

// produce writes n records over keys kFROM.. (keys of them in turn).
func (r *ckptRig) produce(n, from, keys int) {
	r.t.Helper()
	rs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprint("k", from+i%keys)
		r.ref[k]++
		rs = append(rs, &kgo.Record{Topic: r.app + "-in", Key: []byte(k), Value: []byte("x")})
	}
	if err := r.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// running waits until in runs every task, and returns the changelog
// offsets its tasks restored and had to restore.
func (r *ckptRig) running(in *testInstance) (restored, total int64) {
	r.t.Helper()
	waitFor(r.t, "every task to run", func() bool {
		n := 0
		for _, s := range in.app.TaskMetrics() {
			if s.State == TaskRunning {
				n++
			}
		}
		return n == ckptParts
	})
	for _, s := range in.app.TaskMetrics() {
		restored += s.Restored
		total += s.RestoreTotal
	}
	return restored, total
}

// checkCounts waits until the output holds the reference counts and the
// input is committed, checks the counts (never lower; exactly in
// exactly-once mode, or when exact) and returns how many keys were
// counted too high.
func (r *ckptRig) checkCounts(exact bool) int {
	r.t.Helper()
	var got map[string]int64
	waitFor(r.t, "the counts", func() bool {
		got = lastKeyCounts(r.t, r.seeds, r.app+"-out")
		for k, n := range r.ref {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	// Everything processed and committed: the last counts.
	waitFor(r.t, "the input to be committed", func() bool {
		ends, err := r.adm.ListEndOffsets(context.Background(), r.app+"-in")
		if err != nil {
			r.t.Fatal(err)
		}
		committed, err := r.adm.FetchOffsets(context.Background(), r.app)
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := committed.Lookup(o.Topic, o.Partition)
			done = done && ok && c.At >= o.Offset
		})
		return done
	})
	got = lastKeyCounts(r.t, r.seeds, r.app+"-out")
	high, wrong := 0, 0
	for k, n := range r.ref {
		if got[k] > n {
			high++
		}
		if got[k] < n || (exact || r.eos) && got[k] != n {
			if wrong++; wrong <= 5 {
				r.t.Errorf("%s: count %d, reference %d", k, got[k], n)
			}
		}
	}
	if len(got) != len(r.ref) || wrong > 0 {
		r.t.Fatalf("%d keys in the output, %d in the reference, %d wrong", len(got), len(r.ref), wrong)
	}
	return high
}

// changelogEnd returns the changelog's end offsets, once no transaction
// is open on it and (exactly-once) the last transaction's markers are
// written.
func (r *ckptRig) changelogEnd() kadm.ListedOffsets {
	r.t.Helper()
	ctx := context.Background()
	var ends kadm.ListedOffsets
	waitFor(r.t, "no open transaction on the changelog", func() bool {
		hw, err := r.adm.ListEndOffsets(ctx, r.changelg)
		if err != nil {
			r.t.Fatal(err)
		}
		ls, err := r.adm.ListCommittedOffsets(ctx, r.changelg)
		if err != nil {
			r.t.Fatal(err)
		}
		ends = hw
		stable := true
		hw.Each(func(o kadm.ListedOffset) {
			l, _ := ls.Lookup(o.Topic, o.Partition)
			stable = stable && l.Offset == o.Offset
		})
		return stable && (!r.eos || r.endsWithMarkers(hw))
	})
	return ends
}

func sumOffsets(os kadm.ListedOffsets) int64 {
	var n int64
	os.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// endsWithMarkers reports whether the last record of every changelog
// partition is a transaction marker. The last stable offset moves past
// an aborted transaction when its marker is appended, before the high
// watermark includes the marker.
func (r *ckptRig) endsWithMarkers(hw kadm.ListedOffsets) bool {
	r.t.Helper()
	from := map[int32]kgo.Offset{}
	hw.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			from[o.Partition] = kgo.NewOffset().At(o.Offset - 1)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.changelg: from}))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	markers := true
	for len(from) > 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
			if _, ok := from[rec.Partition]; ok {
				markers = markers && rec.Attrs.IsControl()
				delete(from, rec.Partition)
			}
		})
	}
	return markers && len(from) == 0
}

// diskCheckpoints reads the checkpoints of the stopped app's stores from
// the state directory, by partition.
func (r *ckptRig) diskCheckpoints() map[int32]state.Checkpoint { return r.editCheckpoints(nil) }

// editCheckpoints reads the checkpoints of the stopped app's stores, by
// partition, and rewrites them with edit if not nil.
func (r *ckptRig) editCheckpoints(edit func(p int32, cp *state.Checkpoint)) map[int32]state.Checkpoint {
	r.t.Helper()
	out := map[int32]state.Checkpoint{}
	for p := int32(0); p < ckptParts; p++ {
		s, err := state.OpenPebble(filepath.Join(r.dir, r.app, fmt.Sprintf("0_%d", p), "n"))
		if err != nil {
			r.t.Fatal(err)
		}
		cp, ok, err := s.Checkpoint()
		if err != nil || !ok {
			r.t.Fatalf("partition %d: checkpoint %v %v", p, ok, err)
		}
		if edit != nil {
			edit(p, &cp)
			if err := s.SetCheckpoint(cp); err != nil {
				r.t.Fatal(err)
			}
		}
		out[p] = cp
		if err := s.Close(); err != nil {
			r.t.Fatal(err)
		}
	}
	return out
}

func stopClean(t *testing.T, in *testInstance) {
	t.Helper()
	in.stop()
	if err := <-in.done; err != nil {
		t.Fatalf("instance stopped with %v", err)
	}
}

func checkpointRestarts(t *testing.T, seeds []string, eos bool) {
	app := "ckpt-alos"
	if eos {
		app = "ckpt-eos"
	}
	r := newCkptRig(t, seeds, app, eos, t.TempDir())

	// 20k keys counted, then a clean close.
	keys := ckptKeys()
	a := r.start("a")
	r.produce(keys, 0, keys)
	r.checkCounts(true)
	stopClean(t, a)
	full := sumOffsets(r.changelogEnd())
	if full < int64(keys) {
		t.Fatalf("the changelog holds %d offsets, want at least one per key", full)
	}
	for p, cp := range r.diskCheckpoints() {
		if !cp.Exact || cp.Offset == 0 {
			t.Errorf("partition %d: after a clean close the checkpoint is %+v", p, cp)
		}
	}

	// Restart on the same directory: nothing to restore but the
	// transaction markers after the checkpoints.
	began := time.Now()
	b := r.start("b")
	restored, total := r.running(b)
	t.Logf("after a clean close: restored %d changelog offsets of %d (%d records applied); every task ran %v after the start",
		restored, full, b.app.Metrics().RestoredRecords.Load(), time.Since(began).Round(time.Millisecond))
	if restored != total || total > ckptParts || b.app.Metrics().RestoredRecords.Load() != 0 {
		t.Errorf("after a clean close: restored %d of %d changelog offsets (%d records), want only the tail", restored, total, b.app.Metrics().RestoredRecords.Load())
	}
	r.produce(1000, 0, 1000)
	r.checkCounts(true)
	stopClean(t, b)

	// An instance processes 60k more records and dies before committing:
	// first as a crash loses Pebble's memtables, then after Pebble
	// flushed them (the checkpoint on disk is inexact then).
	r.killAndRestart("c", "d", 0, false)
	r.killAndRestart("e", "f", 60000, true)
}

// killAndRestart runs an instance (name) that processes 60k records over
// keys kFROM.. (15k keys per task: its write caches spill into the
// stores) and dies before committing (after flushing its stores'
// memtables if flush). Another instance (next) restarts on the state
// directory; each of its stores restores from its checkpoint on disk
// where the mode trusts it (exactly-once: only an exact one), else in
// full. The counts are checked, and next stopped.
func (r *ckptRig) killAndRestart(name, next string, from int, flush bool) {
	t := r.t
	c := r.start(name, CommitInterval(time.Hour))
	r.produce(60000, from, 60000)
	waitFor(t, name+" to process the records", func() bool { return c.app.Metrics().RecordsProcessed.Load() == 60000 })
	if flush {
		c.app.mu.Lock()
		for _, tk := range c.app.mu.tasks {
			if err := tk.stores["n"].backing().(*checkpointed).Flush(); err != nil {
				t.Fatal(err)
			}
		}
		c.app.mu.Unlock()
	}
	c.app.killed.Store(true)
	r.produce(1, from, 1) // ends the poll, which waits up to the commit interval
	if err := <-c.done; err == nil {
		t.Fatal("killed instance returned nil")
	}
	ends := map[int32]int64{}
	r.changelogEnd().Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	want := map[string]int64{}
	var trusted int
	for p, cp := range r.diskCheckpoints() {
		if flush && cp.Exact {
			t.Errorf("partition %d: the store was written after its checkpoint %+v, which says exact", p, cp)
		}
		want[fmt.Sprintf("0_%d", p)] = ends[p]
		if cp.Exact || !r.eos {
			want[fmt.Sprintf("0_%d", p)] -= cp.Offset
			trusted++
		}
	}
	began := time.Now()
	d := r.start(next)
	r.running(d)
	took := time.Since(began).Round(time.Millisecond)
	var restored, total int64
	for _, s := range d.app.TaskMetrics() {
		if s.RestoreTotal != want[s.ID] || s.Restored != s.RestoreTotal {
			t.Errorf("task %s restored %d of %d changelog offsets, want %d", s.ID, s.Restored, s.RestoreTotal, want[s.ID])
		}
		var p int32
		fmt.Sscanf(s.ID, "0_%d", &p)
		restored += s.Restored
		total += ends[p]
	}
	t.Logf("after a kill (memtables flushed: %v): %d of %d checkpoints trusted, restored %d changelog offsets of %d; every task ran %v after the start",
		flush, trusted, ckptParts, restored, total, took)
	high := r.checkCounts(false)
	t.Logf("after a kill: %d keys counted too high (at least once)", high)
	stopClean(t, d)
}

// checkpointNoStateDir: without StateDir every restart restores the whole
// changelog.
func checkpointNoStateDir(t *testing.T, seeds []string) {
	r := newCkptRig(t, seeds, "ckpt-mem", false, "")
	keys := ckptKeys()
	a := r.start("a")
	r.produce(keys, 0, keys)
	r.checkCounts(true)
	stopClean(t, a)
	full := sumOffsets(r.changelogEnd())
	began := time.Now()
	b := r.start("b")
	restored, total := r.running(b)
	t.Logf("without a state directory: restored %d changelog offsets of %d; every task ran %v after the start",
		restored, full, time.Since(began).Round(time.Millisecond))
	if restored != full || total != full {
		t.Errorf("without a state directory: restored %d of %d changelog offsets, want all %d", restored, total, full)
	}
	r.produce(1000, 0, 1000)
	r.checkCounts(true)
	stopClean(t, b)
}

// checkpointUntrusted: checkpoints that cannot be trusted make the stores
// restore in full, and then hold exactly what the changelog holds: a
// checkpoint beyond the changelog end, one of another partition, and
// checkpoints of a changelog topic that was deleted and created again
// (longer than before, so that only its topic id tells).
func checkpointUntrusted(t *testing.T, seeds []string) {
	r := newCkptRig(t, seeds, "ckpt-bad", false, t.TempDir())
	a := r.start("a")
	r.produce(20000, 0, 20000)
	r.checkCounts(true)
	stopClean(t, a)

	restartInFull := func(name, what string) *testInstance {
		t.Helper()
		ends := map[int32]int64{}
		r.changelogEnd().Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
		in := r.start(name)
		r.running(in)
		for _, s := range in.app.TaskMetrics() {
			var p int32
			fmt.Sscanf(s.ID, "0_%d", &p)
			if s.RestoreTotal != ends[p] || s.Restored != ends[p] {
				t.Errorf("%s: task %s restored %d of %d changelog offsets, want all %d", what, s.ID, s.Restored, s.RestoreTotal, ends[p])
			}
		}
		r.storesMatchChangelog(in, what)
		t.Logf("%s: restored in full (%d records applied)", what, in.app.Metrics().RestoredRecords.Load())
		return in
	}
	for _, c := range []struct {
		what string
		edit func(p int32, cp *state.Checkpoint)
	}{
		{"checkpoint after the changelog end", func(_ int32, cp *state.Checkpoint) { cp.Offset += 1000 }},
		{"checkpoint of another partition", func(p int32, cp *state.Checkpoint) { cp.Partition = (p + 1) % ckptParts }},
	} {
		r.editCheckpoints(c.edit)
		in := restartInFull("b", c.what)
		r.produce(1000, 0, 1000)
		r.checkCounts(true)
		stopClean(t, in)
	}

	// The changelog is deleted and created again, with counts of 25 for
	// k0..k999 (written 1, 2, ... 25: more offsets than the stores'
	// checkpoints). The stores must hold those and nothing else: counting
	// goes on from them.
	ctx := context.Background()
	if _, err := r.adm.DeleteTopics(ctx, r.changelg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changelog to be created again", func() bool {
		resp, err := r.adm.CreateTopic(ctx, ckptParts, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, r.changelg)
		return err == nil && resp.Err == nil
	})
	var rs []*kgo.Record
	for n := int64(1); n <= 25; n++ {
		for i := 0; i < 1000; i++ {
			k := []byte(fmt.Sprint("k", i))
			v, err := serde.Int64.Encode(nil, n)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, &kgo.Record{Topic: r.changelg, Partition: partitionFor(k, ckptParts), Key: k, Value: v})
		}
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cps := r.diskCheckpoints()
	r.changelogEnd().Each(func(o kadm.ListedOffset) {
		if cp := cps[o.Partition]; cp.Offset > o.Offset {
			t.Fatalf("partition %d: the new changelog ends at %d, before the checkpoint %d", o.Partition, o.Offset, cp.Offset)
		}
	})
	in := restartInFull("c", "changelog created again")
	// The reference is what the new changelog says, plus new input.
	r.ref = map[string]int64{}
	for i := 0; i < 1000; i++ {
		r.ref[fmt.Sprint("k", i)] = 25
	}
	r.produce(2000, 0, 2000)
	got := map[string]int64{}
	waitFor(t, "the counts after the changelog was created again", func() bool {
		got = lastKeyCounts(t, seeds, r.app+"-out")
		for k, n := range r.ref {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	for k, n := range r.ref {
		if got[k] != n {
			t.Errorf("%s: count %d, want %d (the new changelog's, plus the new input)", k, got[k], n)
		}
	}
	stopClean(t, in)
}

// storesMatchChangelog checks that the store of every task of in holds
// exactly what its changelog partition says (the last value of each key
// not deleted).
func (r *ckptRig) storesMatchChangelog(in *testInstance, what string) {
	r.t.Helper()
	want := map[int32]map[string]string{}
	for p := int32(0); p < ckptParts; p++ {
		want[p] = map[string]string{}
	}
	for _, rec := range readCommitted(r.t, r.seeds, r.changelg) {
		if rec.Value == nil {
			delete(want[rec.Partition], string(rec.Key))
		} else {
			want[rec.Partition][string(rec.Key)] = string(rec.Value)
		}
	}
	for p := int32(0); p < ckptParts; p++ {
		got := in.app.activeStore(taskKey{0, p}, "n")
		if !maps.Equal(got, want[p]) {
			r.t.Errorf("%s: the store of task 0_%d holds %d keys, its changelog %d, not the same", what, p, len(got), len(want[p]))
		}
	}
}

// checkpointStandbys: two instances with a standby replica each, on their
// own state directories, stop one after the other and start again. A
// standby's position is a checkpoint too: every task restores (or, as a
// standby, follows) only a tail of its changelog, on whichever instance
// it lands (the first instance to start runs every task for a while).
func checkpointStandbys(t *testing.T, seeds []string) {
	r := newCkptRig(t, seeds, "ckpt-sb", false, "")
	dirA, dirB := t.TempDir(), t.TempDir()
	start := func(name, dir string) *testInstance { return r.start(name, StateDir(dir), StandbyReplicas(1)) }
	// Each instance runs half the tasks and keeps caught-up standbys of
	// the others.
	split := func(ins ...*testInstance) func() bool {
		return func() bool {
			for _, in := range ins {
				n := map[TaskState]int{}
				for _, s := range in.app.TaskMetrics() {
					if s.State == TaskStandby && s.Lag != 0 {
						return false
					}
					n[s.State]++
				}
				if n[TaskRunning] != ckptParts/2 || n[TaskStandby] != ckptParts/2 {
					return false
				}
			}
			return true
		}
	}
	a, b := start("a", dirA), start("b", dirB)
	r.produce(20000, 0, 20000)
	r.checkCounts(true)
	waitFor(t, "the tasks to split, with caught-up standbys", split(a, b))
	stopClean(t, a)
	stopClean(t, b)
	full := sumOffsets(r.changelogEnd())

	a, b = start("a2", dirA), start("b2", dirB)
	var restored, applied int64
	waitFor(t, "the tasks to split again, with caught-up standbys", split(a, b))
	for _, in := range []*testInstance{a, b} {
		restored += in.app.Metrics().RestoredRecords.Load()
		applied += in.app.Metrics().StandbyRecords.Load()
	}
	t.Logf("restart of both instances: %d changelog records restored, %d applied by standbys, of %d", restored, applied, full)
	if (restored+applied)*100 > full {
		t.Errorf("restart of both instances: %d changelog records restored and %d applied by standbys, more than 1%% of %d", restored, applied, full)
	}
	r.produce(1000, 0, 1000)
	r.checkCounts(true)
}
