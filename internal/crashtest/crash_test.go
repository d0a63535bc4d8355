// Package crashtest kills the real eddy binary with SIGKILL while producers
// write with acks=all, restarts it on the same data directory, and checks
// that every acknowledged record survived exactly once and in order.
package crashtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/internal/brokerproc"
)

var eddyBin string

func TestMain(m *testing.M) { brokerproc.RunTests(m, &eddyBin) }

// server is one run of the eddy binary.
type server struct{ *brokerproc.Server }

func freePort(t *testing.T) string { return brokerproc.FreePort(t) }

// start runs eddy serve on dir and waits until it accepts connections.
func start(t *testing.T, dir, addr string) *server {
	t.Helper()
	return &server{brokerproc.Start(t, eddyBin, dir, addr)}
}

func (s *server) kill(t *testing.T) { t.Helper(); s.Kill(t) }

func (s *server) stop(t *testing.T) { t.Helper(); s.Stop(t) }

// TestKill9DuringProduce runs several acks=all producers, one partition
// each, and SIGKILLs the broker at random moments. Producers do not retry
// (so nothing is written twice by a client), and send one request at a
// time per partition (so order is defined). Afterwards every acknowledged
// record must be present once, and each partition's records in the order
// they were produced.
func TestKill9DuringProduce(t *testing.T) {
	cycles := 20
	if testing.Short() {
		cycles = 3
	}
	const producers = 4
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	srv := start(t, dir, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	createTopics(ctx, t, addr, producers, "crash")

	var (
		mu    sync.Mutex
		acked = make([]map[int]bool, producers)
		sent  = make([]int, producers)
	)
	for i := range acked {
		acked[i] = map[int]bool{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for cycle := 0; cycle < cycles; cycle++ {
		runCtx, stopRun := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				produceUntil(runCtx, addr, p, &mu, &sent[p], acked[p])
			}(p)
		}
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		srv.kill(t)
		stopRun()
		wg.Wait()
		srv = start(t, dir, addr)
	}
	srv.stop(t)
	srv = start(t, dir, addr)
	defer srv.stop(t)

	total := 0
	for p := range acked {
		total += len(acked[p])
	}
	if total == 0 {
		t.Fatal("no record was acknowledged; the test proves nothing")
	}
	got := readAll(t, ctx, addr, producers)
	for p := 0; p < producers; p++ {
		seen := map[int]bool{}
		last := -1
		for _, v := range got[p] {
			if seen[v] {
				t.Errorf("partition %d: record %d appears twice", p, v)
			}
			seen[v] = true
			if v <= last {
				t.Errorf("partition %d: record %d after %d (out of order)", p, v, last)
			}
			last = v
		}
		missing := 0
		for v := range acked[p] {
			if !seen[v] {
				missing++
				if missing <= 5 {
					t.Errorf("partition %d: acknowledged record %d is missing", p, v)
				}
			}
		}
		if missing > 0 {
			t.Errorf("partition %d: %d acknowledged records missing", p, missing)
		}
		t.Logf("partition %d: sent %d, acknowledged %d, present %d", p, sent[p], len(acked[p]), len(got[p]))
	}
	t.Logf("%d kill -9 cycles, %d acknowledged records, all present once and in order", cycles, total)
}

// produceUntil produces sequence-numbered records to partition p until ctx
// ends, recording which were acknowledged.
func produceUntil(ctx context.Context, addr string, p int, mu *sync.Mutex, next *int, acked map[int]bool) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic("crash"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(0),
		kgo.MaxProduceRequestsInflightPerBroker(1),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.RetryTimeout(2*time.Second),
	)
	if err != nil {
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		mu.Lock()
		seq := *next
		*next = seq + 1
		mu.Unlock()
		r := &kgo.Record{Partition: int32(p), Value: []byte(strconv.Itoa(seq))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err == nil {
				mu.Lock()
				acked[seq] = true
				mu.Unlock()
			}
		})
		if seq%64 == 0 {
			// Keep the amount in flight small so a kill loses little work.
			fctx, c := context.WithTimeout(ctx, 3*time.Second)
			cl.Flush(fctx)
			c()
		}
	}
	fctx, c := context.WithTimeout(context.Background(), 3*time.Second)
	cl.Flush(fctx)
	c()
}

// readAll reads every partition of "crash" from the start to the high
// watermark.
func readAll(t *testing.T, ctx context.Context, addr string, partitions int) [][]int {
	t.Helper()
	return readAllTopic(t, ctx, addr, "crash", partitions)
}

// readAllTopic reads every partition of topic from the start to the high
// watermark, parsing each value as a sequence number.
func readAllTopic(t *testing.T, ctx context.Context, addr, topic string, partitions int) [][]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	want := 0
	ends.Each(func(o kadm.ListedOffset) {
		offsets[o.Partition] = kgo.NewOffset().AtStart()
		want += int(o.Offset)
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	out := make([][]int, partitions)
	n := 0
	for n < want {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", n, want, ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			t.Fatalf("fetch: %v", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v, err := strconv.Atoi(strings.TrimSpace(string(r.Value)))
			if err != nil {
				t.Fatalf("record %q at %d/%d is not one we wrote", r.Value, r.Partition, r.Offset)
			}
			out[r.Partition] = append(out[r.Partition], v)
			n++
		})
	}
	return out
}

// TestSigtermKeepsEverything stops the broker with SIGTERM and checks a
// restart serves every record, including acks=1 ones.
func TestSigtermKeepsEverything(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	srv := start(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("clean"),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	srv.stop(t)
	srv = start(t, dir, addr)
	defer srv.stop(t)

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("clean"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	next := 0
	for next < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d", next, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) != strconv.Itoa(next) {
				t.Fatalf("offset %d holds %q, want %d", r.Offset, r.Value, next)
			}
			next++
		})
	}

}

// TestCommittedOffsetsSurviveKill9 commits offsets for a group, SIGKILLs
// the broker after each acknowledged commit round, restarts it, and checks
// OffsetFetch returns exactly the last acknowledged commits.
func TestCommittedOffsetsSurviveKill9(t *testing.T) {
	cycles := 10
	if testing.Short() {
		cycles = 2
	}
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	srv := start(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const partitions = 4
	want := map[int32]int64{}
	for cycle := 0; cycle < cycles; cycle++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(cl)
		if cycle == 0 {
			if _, err := adm.CreateTopic(ctx, partitions, 1, nil, "offsets"); err != nil {
				t.Fatal(err)
			}
		}
		// Several commit rounds, each acknowledged, then a kill at once.
		for round := 0; round < 5; round++ {
			offs := kadm.Offsets{}
			for p := int32(0); p < partitions; p++ {
				o := int64(cycle*1000 + round*10 + int(p))
				offs.Add(kadm.Offset{Topic: "offsets", Partition: p, At: o, LeaderEpoch: -1, Metadata: fmt.Sprintf("c%d-r%d", cycle, round)})
			}
			resp, err := adm.CommitOffsets(ctx, "crash-group", offs)
			if err != nil {
				t.Fatalf("commit: %v", err)
			}
			if err := resp.Error(); err != nil {
				t.Fatalf("commit: %v", err)
			}
			for p := int32(0); p < partitions; p++ {
				want[p] = int64(cycle*1000 + round*10 + int(p))
			}
		}
		cl.Close()
		srv.kill(t)
		srv = start(t, dir, addr)

		cl, err = kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		got, err := kadm.NewClient(cl).FetchOffsets(ctx, "crash-group")
		cl.Close()
		if err != nil {
			t.Fatalf("fetch offsets after kill %d: %v", cycle, err)
		}
		for p := int32(0); p < partitions; p++ {
			o, ok := got.Lookup("offsets", p)
			if !ok || o.At != want[p] {
				t.Fatalf("after kill %d: partition %d committed offset %+v, want %d", cycle, p, o, want[p])
			}
			if o.Metadata != fmt.Sprintf("c%d-r4", cycle) {
				t.Fatalf("after kill %d: metadata %q", cycle, o.Metadata)
			}
		}
	}
	srv.stop(t)
}

// TestIdempotentProduceThroughKills runs franz-go producers with their
// defaults (idempotent, retrying, five requests in flight) while the
// broker is SIGKILLed and restarted. Retries of batches the broker had
// already written must be recognised from its recovered producer state:
// the log ends up with every acknowledged record exactly once, in order.
func TestIdempotentProduceThroughKills(t *testing.T) {
	cycles := 10
	if testing.Short() {
		cycles = 2
	}
	const producers = 3
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	srv := start(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	createTopics(ctx, t, addr, producers, "idem")

	var mu sync.Mutex
	acked := make([]map[int]bool, producers)
	for i := range acked {
		acked[i] = map[int]bool{}
	}
	clients := make([]*kgo.Client, producers)
	for p := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("idem"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond),
			kgo.RecordDeliveryTimeout(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[p] = cl
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p, cl := range clients {
		wg.Add(1)
		go func(p int, cl *kgo.Client) {
			defer wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				cl.Produce(ctx, &kgo.Record{Partition: int32(p), Value: []byte(strconv.Itoa(seq))}, func(r *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						acked[p][seq] = true
						mu.Unlock()
					}
				})
				if seq%100 == 99 {
					time.Sleep(time.Millisecond)
				}
			}
		}(p, cl)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for cycle := 0; cycle < cycles; cycle++ {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		srv.kill(t)
		srv = start(t, dir, addr)
	}
	close(stop)
	wg.Wait()
	for _, cl := range clients {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	total := 0
	for p := range acked {
		total += len(acked[p])
	}
	got := readAllTopic(t, ctx, addr, "idem", producers)
	for p := 0; p < producers; p++ {
		seen := map[int]bool{}
		last := -1
		for _, v := range got[p] {
			if seen[v] {
				t.Fatalf("partition %d: record %d written twice", p, v)
			}
			seen[v] = true
			if v <= last {
				t.Fatalf("partition %d: record %d after %d", p, v, last)
			}
			last = v
		}
		for v := range acked[p] {
			if !seen[v] {
				t.Fatalf("partition %d: acknowledged record %d missing", p, v)
			}
		}
	}
	srv.stop(t)
	t.Logf("%d kills, %d acknowledged records, no duplicates, none lost, in order", cycles, total)
}

// createTopics creates topics of the given partition count on the broker
// at addr.
func createTopics(ctx context.Context, t *testing.T, addr string, partitions int32, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}
