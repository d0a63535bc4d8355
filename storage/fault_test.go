package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// faultRun is what a workload run under fault injection promised.
type faultRun struct {
	m         model
	ackedEnd  int64 // end of the batches a nil WaitDurable, Sync or Close covered
	keepFrom  int64 // the log start the workload last saw (or a failed call may have set)
	deletedTo int64 // the last DeleteRecords that returned nil
	errs      int   // errors the workload saw
}

func faultConfig() Config {
	cfg := testConfig()
	cfg.Fsync = true
	cfg.SegmentBytes = 700
	cfg.IndexIntervalBytes = 150
	cfg.RetentionBytes = 2100
	return cfg
}

// faultWorkload opens a log on fs, appends batches with syncs, rolls,
// applies retention, deletes records, closes, reopens (recovering under
// faults too), appends more and closes again. Errors are expected; it
// checks the promises the log makes while it runs: once it has failed,
// it refuses appends; a reopened log keeps the deleted-records start.
func faultWorkload(t *testing.T, fs vfs.FS, batches [][]byte) *faultRun {
	t.Helper()
	r := &faultRun{}
	cfg := faultConfig()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	half := len(batches) / 2
	var failedUpTo int64 // how far a failed retention or DeleteRecords may have moved the log start
	for phase, bs := range [][][]byte{batches[:half], batches[half:]} {
		l, err := tryOpen(fs, cfg, nil)
		if err != nil {
			r.errs++
			continue
		}
		if phase == 1 {
			if ls := l.Offsets().LogStart; ls < r.deletedTo {
				t.Fatalf("reopened log starts at %d, before the records deleted up to %d", ls, r.deletedTo)
			}
			if leo := l.Offsets().LogEnd; leo < r.ackedEnd {
				t.Fatalf("reopened log ends at %d, before acknowledged %d", leo, r.ackedEnd)
			}
			// The model continues from what the reopened log holds: a
			// process restart without a crash keeps everything written.
			j := 0
			for j < len(r.m.batches) && r.m.batches[j].next() <= l.Offsets().LogEnd {
				j++
			}
			r.m.batches = r.m.batches[:j]
		}
		for i, b := range bs {
			b = bytes.Clone(b)
			info := mustValidate(t, b)
			failedBefore := l.Err() != nil
			base, err := l.Append(b, &info)
			if err != nil {
				r.errs++
				if failedBefore && !errors.Is(err, ErrFailed) {
					t.Fatalf("Append on a failed log: %v, want ErrFailed", err)
				}
				continue
			}
			if failedBefore {
				t.Fatalf("Append succeeded on a failed log (%v)", l.Err())
			}
			sb := storedBatch{base: base, last: base + int64(info.LastOffsetDelta), bytes: b, ts: recordTimestamps(t, b)}
			if want := r.m.end(); len(r.m.batches) > 0 && base != want {
				t.Fatalf("Append at %d, want %d", base, want)
			}
			r.m.batches = append(r.m.batches, sb)
			switch i % 5 {
			case 1:
				err := l.WaitDurable(ctx, sb.next())
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					t.Fatal("WaitDurable hung")
				case err == nil:
					r.ackedEnd = sb.next()
				default:
					r.errs++
					if !errors.Is(err, ErrFailed) || l.Err() == nil {
						t.Fatalf("WaitDurable: %v (log error %v); want the log failed", err, l.Err())
					}
				}
			case 3:
				end := r.m.end()
				if err := l.Sync(); err == nil {
					r.ackedEnd = end
				} else {
					r.errs++
				}
			case 4:
				if _, err := l.ApplyRetention(); err != nil {
					r.errs++
					// The new log start may have reached the disk anyway.
					failedUpTo = max(failedUpTo, l.Offsets().HighWatermark)
				}
			}
			if phase == 0 && i == len(bs)-3 {
				// Delete into the middle of a batch that is durable.
				if to := r.ackedEnd - 1; to > l.Offsets().LogStart {
					if _, err := l.DeleteRecords(to); err == nil {
						r.deletedTo = to
					} else {
						r.errs++
						failedUpTo = max(failedUpTo, to)
					}
				}
			}
			r.keepFrom = max(l.Offsets().LogStart, failedUpTo)
		}
		end := r.m.end()
		if err := l.Close(); err == nil {
			r.ackedEnd = end
		} else {
			r.errs++
		}
	}
	return r
}

func faultBatches(t *testing.T, n int) [][]byte {
	rng := rand.New(rand.NewPCG(21, 22))
	var out [][]byte
	for i := range n {
		out = append(out, randomBatch(t, rng, 4, int64(1000+i), 60))
	}
	return out
}

// TestFaultInjection fails each operation of the workload in turn (once,
// for good, and as a short write), then crashes, and checks that the log
// reopens with every acknowledged batch intact and nothing corrupt.
func TestFaultInjection(t *testing.T) {
	batches := faultBatches(t, 60)
	count := vfs.NewErrorFS(vfs.NewMem())
	faultWorkload(t, count, batches)
	n := count.Ops()
	if n < 100 {
		t.Fatalf("workload has only %d operations", n)
	}
	t.Logf("workload: %d operations", n)
	modes := []struct {
		name string
		opts func(i int) []vfs.ErrorFSOption
	}{
		{"oneshot", func(int) []vfs.ErrorFSOption { return nil }},
		{"sticky", func(int) []vfs.ErrorFSOption { return []vfs.ErrorFSOption{vfs.WithSticky()} }},
		{"shortwrite", func(i int) []vfs.ErrorFSOption {
			return []vfs.ErrorFSOption{vfs.WithOps(vfs.OpWrite, vfs.OpTruncate, vfs.OpSync), vfs.WithPartialWrites(rand.New(rand.NewPCG(uint64(i), 1)))}
		}},
		{"nospace-sticky", func(int) []vfs.ErrorFSOption {
			return []vfs.ErrorFSOption{vfs.WithSticky(), vfs.WithInjectedError(vfs.ErrNoSpace), vfs.WithOps(vfs.OpWrite, vfs.OpCreate, vfs.OpSync, vfs.OpSyncDir, vfs.OpRename)}
		}},
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			injected := 0
			for i := 0; i < n+n/4; i += step { // the syncer's scheduling varies the count
				mem := vfs.NewMem()
				efs := vfs.NewErrorFS(mem, mode.opts(i)...)
				efs.FailAfter(i)
				r := faultWorkload(t, efs, batches)
				if efs.Injected() == 0 {
					continue
				}
				injected++
				what := efs.LastInjected()
				for _, torn := range []bool{false, true} {
					crashed := mem.CrashClone()
					if torn {
						crashed = mem.CrashCloneWithTornTails(rand.New(rand.NewPCG(uint64(i), 7)))
					}
					checkAfterFault(t, crashed, r, fmt.Sprintf("op %d (%s), torn tails %v", i, what, torn))
					if t.Failed() {
						return
					}
				}
				if t.Failed() {
					return
				}
			}
			if injected == 0 {
				t.Fatal("no fault was injected")
			}
			t.Logf("%d runs with a fault injected", injected)
		})
	}
}

// checkAfterFault reopens a crashed filesystem and checks it against what
// the faulty run promised.
func checkAfterFault(t *testing.T, mem *vfs.MemFS, r *faultRun, what string) {
	t.Helper()
	l, err := tryOpen(vfs.NewErrorFS(mem), faultConfig(), nil)
	if err != nil {
		t.Fatalf("%s: reopen after crash: %v", what, err)
	}
	defer l.Close()
	defer func() {
		if t.Failed() {
			t.Logf("after failing %s; acked %d, keep from %d, deleted to %d", what, r.ackedEnd, r.keepFrom, r.deletedTo)
			names, _ := mem.List(testDir)
			t.Logf("files: %v", names)
			l.mu.Lock()
			for _, s := range l.mu.segs {
				t.Logf("segment %d..%d, %d bytes", s.base, s.next, s.size)
			}
			t.Logf("offsets: start %d, end %d", l.mu.logStart, l.mu.leo)
			l.mu.Unlock()
			for _, b := range r.m.batches {
				t.Logf("model batch %d..%d", b.base, b.last)
			}
		}
	}()
	checkRecovered(t, l, &r.m, r.ackedEnd, r.keepFrom)
	if ls := l.Offsets().LogStart; ls < r.deletedTo {
		t.Fatalf("log start %d after crash, before the records deleted up to %d", ls, r.deletedTo)
	}
	checkIndexes(t, mem, l, true)
	checkActiveFileTruncated(t, mem, l)
	// And it takes appends again, right after what survived.
	end := l.Offsets().LogEnd
	b := simpleBatch(t, 1, 1, 5, 1)
	info := mustValidate(t, b)
	if base, err := l.Append(b, &info); err != nil || base != end {
		t.Fatalf("append after recovery: %d, %v; want %d", base, err, end)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// The log-start file written by DeleteRecords must survive an I/O error
// reading it at open: a transient read failure must not bring deleted
// records back.
func TestLogStartReadFailure(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, i))
	}
	if _, err := l.DeleteRecords(5); err != nil {
		t.Fatal(err)
	}
	l.Close()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpReadFile))
	efs.FailAfter(0)
	l, err := tryOpen(efs, cfg, nil)
	if err != nil {
		return // refusing to open is fine
	}
	defer l.Close()
	if ls := l.Offsets().LogStart; ls != 5 {
		t.Fatalf("log start %d after a failed read of the log start file, want 5 (or Open failing)", ls)
	}
}

// A segment file whose removal fails, followed by a retention pass that
// removes the next segment, must not reappear as a gap after a restart.
func TestRetentionFailedRemoveLeavesNoGap(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpRemove))
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l := openLog(t, efs, cfg, nil)
	var m model
	for i := range 45 {
		m.append(t, l, sizedBatch(t, 1, 1000, 100, i)) // segments of 10 batches
	}
	cfg.RetentionBytes = 3500
	l.SetConfig(cfg)
	efs.FailAfter(0) // the first segment's .log stays
	if n, err := l.ApplyRetention(); n != 1 || err != nil {
		t.Fatalf("ApplyRetention = %d, %v", n, err)
	}
	cfg.RetentionBytes = 2500
	l.SetConfig(cfg)
	if n, err := l.ApplyRetention(); n != 1 || err != nil {
		t.Fatalf("ApplyRetention = %d, %v", n, err)
	}
	if ls := l.Offsets().LogStart; ls != 20 {
		t.Fatalf("log start %d, want 20", ls)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mem.Stat(segFile(0, logSuffix)); err != nil {
		t.Fatalf("the test meant segment 0's file to stay: %v", err)
	}
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	checkContents(t, l, m.batches[20:])
	if _, err := l.Read(5, 100, -1); err == nil {
		t.Fatal("a leftover segment below the log start is readable")
	}
	// The next pass removes the leftover.
	if _, err := l.ApplyRetention(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mem.Stat(segFile(0, logSuffix)); !vfs.IsNotExist(err) {
		t.Fatalf("leftover segment 0 not removed: %v", err)
	}
	checkContents(t, l, m.batches[20:])
}

// Records deleted by retention stay deleted after a crash, though the
// removals of their files were never synced.
func TestRetentionSurvivesCrash(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.Fsync = true
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 45 {
		m.append(t, l, sizedBatch(t, 1, 1000, 100, i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	cfg.RetentionBytes = 1500
	l.SetConfig(cfg)
	if n, err := l.ApplyRetention(); n != 3 || err != nil {
		t.Fatalf("ApplyRetention = %d, %v", n, err)
	}
	mem.Crash()
	l.Close()
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	if ls := l.Offsets().LogStart; ls != 30 {
		t.Fatalf("log start %d after crash, want 30", ls)
	}
	checkContents(t, l, m.batches[30:])
}

// A DeleteRecords that fails to persist the new log start does not move
// it: the caller is told it failed, and readers still see the records.
func TestDeleteRecordsWriteFailure(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpCreate))
	l := openLog(t, efs, testConfig(), nil)
	defer l.Close()
	var m model
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, i))
	}
	efs.FailAfter(0)
	if _, err := l.DeleteRecords(6); err == nil {
		t.Fatal("DeleteRecords succeeded without writing the log start file")
	}
	if ls := l.Offsets().LogStart; ls != 0 {
		t.Fatalf("log start %d after a failed DeleteRecords, want 0", ls)
	}
	checkContents(t, l, m.batches)
	if ls, err := l.DeleteRecords(6); err != nil || ls != 6 {
		t.Fatalf("retried DeleteRecords = %d, %v", ls, err)
	}
	checkContents(t, l, m.batches[3:])
}
