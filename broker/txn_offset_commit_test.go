package broker

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnOffsetCommit drives TxnOffsetCommit through the wire protocol and
// settles the transactions as the transaction wiring does: a marker on
// __consumer_offsets-0, then groups.completeTransaction. It checks what
// OffsetFetch sees before and after, the transactional batches in the
// log, the hook's refusal, a producer fenced in the log, and that two
// restarts replay pending and settled transactions.
func TestTxnOffsetCommit(t *testing.T) {
	dir := t.TempDir()
	b := startTxnTestBroker(t, dir)
	cl := txnTestClient(t, b)

	const (
		pidA = int64(1000)
		pidB = int64(2000)
	)
	// The hook: producer A (epoch 0) and B may commit to g only.
	var mu sync.Mutex
	var asked []string
	allow := func(pid int64, epoch int16, group string) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, group)
		if group != "g" || (pid != pidA && pid != pidB) || epoch != 0 {
			return kerr.InvalidTxnState
		}
		return nil
	}
	b.groups.setTxnOffsetsAllowed(allow)

	// Transaction 1 of A: pending, invisible, unstable.
	txnTestWantCodes(t, "A commits", txnTestCommit(t, cl, "g", pidA, 0, map[int32]int64{0: 10, 1: 11}), 0)
	txnTestWantFetch(t, "pending", txnTestFetch(t, cl, "g", false), map[int32]txnTestFetched{0: {-1, 0}, 1: {-1, 0}, 2: {-1, 0}})
	txnTestWantFetch(t, "pending, stable", txnTestFetch(t, cl, "g", true), map[int32]txnTestFetched{
		0: {-1, kerr.UnstableOffsetCommit.Code}, 1: {-1, kerr.UnstableOffsetCommit.Code}, 2: {-1, 0},
	})
	if off := b.groups.part.log.OpenTransaction(pidA); off < 0 {
		t.Fatalf("no open transaction of producer %d in __consumer_offsets-0", pidA)
	}

	// The hook refuses: nothing is written.
	txnTestWantCodes(t, "refused", txnTestCommit(t, cl, "other", pidA, 0, map[int32]int64{0: 1}), kerr.InvalidTxnState.Code)
	mu.Lock()
	if len(asked) != 2 || asked[1] != "other" {
		t.Fatalf("hook asked for %v", asked)
	}
	mu.Unlock()

	txnTestEnd(t, b, pidA, 0, true)
	txnTestWantFetch(t, "committed", txnTestFetch(t, cl, "g", true), map[int32]txnTestFetched{0: {10, 0}, 1: {11, 0}, 2: {-1, 0}})

	// Transaction 2 of A, aborted.
	txnTestWantCodes(t, "A again", txnTestCommit(t, cl, "g", pidA, 0, map[int32]int64{0: 20, 2: 22}), 0)
	txnTestEnd(t, b, pidA, 0, false)
	txnTestWantFetch(t, "aborted", txnTestFetch(t, cl, "g", true), map[int32]txnTestFetched{0: {10, 0}, 1: {11, 0}, 2: {-1, 0}})

	// B's transaction stays open across the restarts; normal commits of
	// partitions 0 and 2 meanwhile (on 2, after B's offset: the normal
	// commit stays when B commits).
	txnTestWantCodes(t, "B commits", txnTestCommit(t, cl, "g", pidB, 0, map[int32]int64{1: 31, 2: 32}), 0)
	txnTestWantCodes(t, "normal commit", txnTestOffsetCommit(t, cl, "g", map[int32]int64{0: 15, 2: 25}), 0)

	// A is fenced in the log (a marker of a newer epoch): the log refuses
	// its epoch-0 batch, and the request says so.
	b.groups.setTxnOffsetsAllowed(nil)
	if off, err := b.groups.part.log.AppendMarker(pidA, 1, false, 0); err != nil {
		t.Fatal(err)
	} else if err := b.groups.part.log.WaitDurable(txnTestCtx(t), off+1); err != nil {
		t.Fatal(err)
	}
	txnTestWantCodes(t, "fenced", txnTestCommit(t, cl, "g", pidA, 0, map[int32]int64{0: 99}), kerr.InvalidProducerEpoch.Code)
	txnTestWantFetch(t, "before restart", txnTestFetch(t, cl, "g", false), map[int32]txnTestFetched{0: {15, 0}, 1: {11, 0}, 2: {25, 0}})

	// The log holds the transactional batches of both producers, and their
	// markers.
	txnRecords, markers := map[int64]int{}, map[int64]int{}
	if err := b.replayInternalEntries(b.groups.part, func(e internalEntry) error {
		switch {
		case e.Marker:
			markers[e.ProducerID]++
		case e.Transactional:
			txnRecords[e.ProducerID]++
		case e.ProducerID >= 0:
			t.Errorf("record of producer %d in a non-transactional batch", e.ProducerID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if txnRecords[pidA] != 4 || txnRecords[pidB] != 2 || markers[pidA] != 3 || markers[pidB] != 0 {
		t.Fatalf("transactional records %v, markers %v", txnRecords, markers)
	}

	// Restart: A's offsets come back committed, B's pending.
	cl.Close()
	b.Close()
	b = startTxnTestBroker(t, dir)
	b.groups.setTxnOffsetsAllowed(nil)
	cl = txnTestClient(t, b)
	txnTestWantFetch(t, "restarted", txnTestFetch(t, cl, "g", false), map[int32]txnTestFetched{0: {15, 0}, 1: {11, 0}, 2: {25, 0}})
	txnTestWantFetch(t, "restarted, stable", txnTestFetch(t, cl, "g", true), map[int32]txnTestFetched{
		0: {15, 0}, 1: {-1, kerr.UnstableOffsetCommit.Code}, 2: {-1, kerr.UnstableOffsetCommit.Code},
	})

	// B commits after the restart: its offset for partition 1 came after
	// A's committed one and replaces it; on partition 2, the normal commit
	// came after B's and stays.
	txnTestEnd(t, b, pidB, 0, true)
	want := map[int32]txnTestFetched{0: {15, 0}, 1: {31, 0}, 2: {25, 0}}
	txnTestWantFetch(t, "B committed", txnTestFetch(t, cl, "g", true), want)

	cl.Close()
	b.Close()
	b = startTxnTestBroker(t, dir)
	cl = txnTestClient(t, b)
	txnTestWantFetch(t, "restarted again", txnTestFetch(t, cl, "g", true), want)
}

func startTxnTestBroker(t *testing.T, dir string) *Broker {
	t.Helper()
	b, err := New(
		WithDataDir(dir),
		WithListen("127.0.0.1:0"),
		WithLogger(slog.New(slog.NewTextHandler(txnTestLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		WithConfig(map[string]string{"group.initial.rebalance.delay.ms": "0"}),
	)
	if err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type txnTestLog struct{ t *testing.T }

func (w txnTestLog) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func txnTestClient(t *testing.T, b *Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func txnTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// txnTestEnd ends a producer's transaction on __consumer_offsets-0 as the
// transaction wiring does: the marker, durable, then the group
// coordinator.
func txnTestEnd(t *testing.T, b *Broker, pid int64, epoch int16, commit bool) {
	t.Helper()
	off, err := b.groups.part.log.AppendMarker(pid, epoch, commit, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.groups.part.log.WaitDurable(txnTestCtx(t), off+1); err != nil {
		t.Fatal(err)
	}
	b.groups.completeTransaction(pid, commit)
}

// txnCommit sends TxnOffsetCommit for topic "t" and returns the code of
// each partition.
func txnTestCommit(t *testing.T, cl *kgo.Client, group string, pid int64, epoch int16, offsets map[int32]int64) map[int32]int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID = "tx"
	req.Group = group
	req.ProducerID = pid
	req.ProducerEpoch = epoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	for p, o := range offsets {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(txnTestCtx(t), cl)
	if err != nil {
		t.Fatalf("TxnOffsetCommit: %v", err)
	}
	codes := map[int32]int16{}
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			codes[sp.Partition] = sp.ErrorCode
		}
	}
	if len(codes) != len(offsets) {
		t.Fatalf("TxnOffsetCommit answered %v for %v", codes, offsets)
	}
	return codes
}

// offsetCommit sends a simple OffsetCommit (no member) for topic "t".
func txnTestOffsetCommit(t *testing.T, cl *kgo.Client, group string, offsets map[int32]int64) map[int32]int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(txnTestCtx(t), cl)
	if err != nil {
		t.Fatalf("OffsetCommit: %v", err)
	}
	codes := map[int32]int16{}
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			codes[sp.Partition] = sp.ErrorCode
		}
	}
	return codes
}

type txnTestFetched struct {
	offset int64
	code   int16
}

// fetchOffsets asks OffsetFetch for partitions 0-2 of topic "t".
func txnTestFetch(t *testing.T, cl *kgo.Client, group string, requireStable bool) map[int32]txnTestFetched {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = requireStable
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0, 1, 2}}}
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(txnTestCtx(t), cl)
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	out := map[int32]txnTestFetched{}
	for _, g := range resp.Groups {
		if g.ErrorCode != 0 {
			t.Fatalf("OffsetFetch of %s: %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
		for _, st := range g.Topics {
			for _, sp := range st.Partitions {
				out[sp.Partition] = txnTestFetched{sp.Offset, sp.ErrorCode}
			}
		}
	}
	return out
}

func txnTestWantCodes(t *testing.T, what string, got map[int32]int16, want int16) {
	t.Helper()
	for p, code := range got {
		if code != want {
			t.Fatalf("%s: partition %d answered %v, want %v", what, p, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
		}
	}
}

func txnTestWantFetch(t *testing.T, what string, got, want map[int32]txnTestFetched) {
	t.Helper()
	for p, w := range want {
		if g := got[p]; g != w {
			t.Fatalf("%s: partition %d txnTestFetched offset %d (%v), want %d (%v); all %v", what, p, g.offset, kerr.ErrorForCode(g.code), w.offset, kerr.ErrorForCode(w.code), got)
		}
	}
}
