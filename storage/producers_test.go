package storage

import (
	"errors"
	"testing"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

func producerBatchOf(t testing.TB, pid int64, epoch int16, seq int32, n int, txn bool) []byte {
	t.Helper()
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{ts: 1000 + int64(i), key: []byte("k"), value: []byte("v")}
	}
	spec := batchSpec{records: recs, producerID: pid, producerEpoch: epoch, firstSequence: seq}
	if txn {
		spec.attrs = AttrTransactional
	}
	return buildBatch(t, spec)
}

func appendP(t testing.TB, l *Log, b []byte) (int64, error) {
	t.Helper()
	info := mustValidate(t, b)
	return l.Append(b, &info)
}

// TestIdempotentProducer checks Kafka's sequence rules: a retried batch
// gets its original offsets and is not written again; gaps, zombies and
// unknown producers are refused; a new epoch restarts at sequence 0. The
// state survives a clean reopen (snapshot) and a crash (replay of the log).
func TestIdempotentProducer(t *testing.T) {
	for _, mode := range []string{"reopen", "crash"} {
		t.Run(mode, func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig()
			cfg.Fsync = true
			cfg.SegmentBytes = 300 // rolls, so snapshots are written mid-log
			l := openLog(t, fs, cfg, nil)

			mustBase := func(b []byte, want int64) {
				t.Helper()
				base, err := appendP(t, l, b)
				if err != nil || base != want {
					t.Fatalf("append: base %d err %v, want base %d", base, err, want)
				}
			}
			wantErr := func(b []byte, want error) {
				t.Helper()
				if _, err := appendP(t, l, b); !errors.Is(err, want) {
					t.Fatalf("append: err %v, want %v", err, want)
				}
			}
			mustBase(producerBatchOf(t, 1, 0, 0, 3, false), 0)
			mustBase(producerBatchOf(t, 1, 0, 3, 2, false), 3)
			// A retry of the first batch: same offsets, nothing written.
			base, err := appendP(t, l, producerBatchOf(t, 1, 0, 0, 3, false))
			if !errors.Is(err, ErrDuplicate) || base != 0 {
				t.Fatalf("retry: base %d err %v, want 0 and ErrDuplicate", base, err)
			}
			if end := l.Offsets().LogEnd; end != 5 {
				t.Fatalf("log end %d after a duplicate, want 5", end)
			}
			wantErr(producerBatchOf(t, 1, 0, 9, 1, false), ErrOutOfOrderSequence)
			wantErr(producerBatchOf(t, 2, 0, 4, 1, false), ErrUnknownProducerID)
			mustBase(producerBatchOf(t, 1, 1, 0, 1, false), 5) // new epoch
			wantErr(producerBatchOf(t, 1, 0, 5, 1, false), ErrInvalidProducerEpoch)
			wantErr(producerBatchOf(t, 1, 2, 3, 1, false), ErrOutOfOrderSequence)
			for i := int32(1); i <= 6; i++ {
				mustBase(producerBatchOf(t, 1, 1, i, 1, false), 5+int64(i))
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}

			switch mode {
			case "reopen":
				l.Close()
				l = openLog(t, fs, cfg, nil)
			case "crash":
				l2 := openLog(t, fs.CrashClone(), cfg, nil)
				l.Close()
				l = l2
			}
			defer l.Close()
			// The last five batches are remembered; older ones are not.
			base, err = appendP(t, l, producerBatchOf(t, 1, 1, 6, 1, false))
			if !errors.Is(err, ErrDuplicate) || base != 11 {
				t.Fatalf("retry after %s: base %d err %v, want 11 and ErrDuplicate", mode, base, err)
			}
			wantErr(producerBatchOf(t, 1, 1, 1, 1, false), ErrOutOfOrderSequence)
			wantErr(producerBatchOf(t, 1, 0, 7, 1, false), ErrInvalidProducerEpoch)
			mustBase(producerBatchOf(t, 1, 1, 7, 1, false), 12)
		})
	}
}

// TestTransactionsLSO checks the last stable offset and the aborted
// transactions list across commits, aborts and a crash.
func TestTransactionsLSO(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig()
	cfg.Fsync = true
	l := openLog(t, fs, cfg, nil)

	lso := func(want int64) {
		t.Helper()
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := l.Offsets().LastStable; got != want {
			t.Fatalf("last stable offset %d, want %d", got, want)
		}
	}
	mustAppend := func(b []byte) int64 {
		t.Helper()
		base, err := appendP(t, l, b)
		if err != nil {
			t.Fatal(err)
		}
		return base
	}
	mustAppend(simpleBatch(t, 2, 1000, 5, 0))        // 0-1 plain
	mustAppend(producerBatchOf(t, 7, 0, 0, 2, true)) // 2-3 txn A (pid 7)
	lso(2)
	mustAppend(producerBatchOf(t, 8, 0, 0, 1, true)) // 4 txn B (pid 8)
	if _, err := appendP(t, l, producerBatchOf(t, 7, 0, 2, 1, false)); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch inside a transaction: %v", err)
	}
	if off, err := l.AppendMarker(7, 0, false, 0); err != nil || off != 5 { // abort A
		t.Fatalf("abort marker: %d %v", off, err)
	}
	lso(4)                                                                 // B still open
	if off, err := l.AppendMarker(8, 0, true, 0); err != nil || off != 6 { // commit B
		t.Fatalf("commit marker: %d %v", off, err)
	}
	lso(7)
	if _, err := l.AppendMarker(7, -1, true, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker from an old epoch: %v", err)
	}
	aborted := l.AbortedTransactions(0, 100)
	if len(aborted) != 1 || aborted[0] != (AbortedTxn{ProducerID: 7, FirstOffset: 2, LastOffset: 5}) {
		t.Fatalf("aborted %+v", aborted)
	}
	if got := l.AbortedTransactions(6, 100); len(got) != 0 {
		t.Fatalf("aborted after the marker: %+v", got)
	}
	mustAppend(producerBatchOf(t, 7, 0, 2, 1, true)) // 7 txn C open
	lso(7)

	// Crash: everything was synced; the state is rebuilt from the log.
	l2 := openLog(t, fs.CrashClone(), cfg, nil)
	l.Close()
	defer l2.Close()
	if got := l2.Offsets().LastStable; got != 7 {
		t.Fatalf("last stable offset after crash %d, want 7", got)
	}
	if got := l2.AbortedTransactions(0, 100); len(got) != 1 || got[0].FirstOffset != 2 {
		t.Fatalf("aborted after crash %+v", got)
	}
	// The read path sees markers as ordinary batches.
	data, err := l2.Read(0, 1<<20, -1)
	if err != nil || len(data) == 0 {
		t.Fatalf("read: %v", err)
	}
}
