package eoscheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
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

const (
	inputTopic = "eos-in"
	goOutput   = "eos-out-go"
	pyOutput   = "eos-out-py"
	partitions = 4
	python     = "/usr/bin/python3"
)

// brokerFlags roll segments every second and run the cleaner often, so
// that __consumer_offsets and __transaction_state are compacted while the
// workers commit, and restarts rebuild the coordinators from compacted logs.
var brokerFlags = []string{"--set", "log.roll.ms=1000", "--set", "log.cleaner.backoff.ms=250"}

// cycles is the number of fault cycles of the campaign: EDDY_EOS_CYCLES,
// or 52 (36 SIGKILL, 16 SIGSTOP), or 6 with -short.
func cycles(t *testing.T) (kills, pauses int) {
	n := 52
	if testing.Short() {
		n = 6
	}
	if s := os.Getenv("EDDY_EOS_CYCLES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2 {
			t.Fatalf("EDDY_EOS_CYCLES=%q: want a number of fault cycles >= 2", s)
		}
		n = v
	}
	pauses = n * 3 / 10
	return n - pauses, pauses
}

// TestExactlyOnceUnderFaults runs the exactly-once workload against the
// real eddy binary: three idempotent acks=all producers write the input
// topic; two franz-go GroupTransactSession workers (one group, one output)
// and a confluent-kafka transactional worker (another group and output)
// copy it; meanwhile the broker is SIGKILLed and restarted at random
// moments (subtest kill) or paused with SIGSTOP and resumed (subtest
// pause). Then everything is read back, across a restart, and Check must
// find no anomaly: nothing acknowledged lost, no duplicate, no aborted
// read, nothing out of order, no offset with two values, every input
// record exactly once in each output.
func TestExactlyOnceUnderFaults(t *testing.T) {
	if err := exec.Command(python, "-c", "import confluent_kafka").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import confluent_kafka: %v", python, err)
		}
		t.Skipf("needs %s with confluent-kafka (python3-confluent-kafka): %v", python, err)
	}
	kills, pauses := cycles(t)
	t.Run("kill", func(t *testing.T) { campaign(t, kills, false) })
	t.Run("pause", func(t *testing.T) { campaign(t, pauses, true) })
}

// workload is one campaign's clients and what they recorded.
type workload struct {
	t    *testing.T
	addr string
	root string

	mu     sync.Mutex
	hist   History
	pyCmd  *exec.Cmd // the running python worker
	pyRuns int       // python workers started

	stopProduce chan struct{}
	stopWorkers chan struct{}
	wg          sync.WaitGroup // producers
	workers     sync.WaitGroup
}

func (w *workload) addTxn(tx Txn) {
	w.mu.Lock()
	w.hist.Txns = append(w.hist.Txns, tx)
	w.mu.Unlock()
}

func campaign(t *testing.T, cycles int, pause bool) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := brokerproc.FreePort(t)
	srv := brokerproc.Start(t, eddyBin, dir, addr, brokerFlags...)
	defer func() { srv.Kill(t) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopics(ctx, partitions, 1, nil, inputTopic, goOutput, pyOutput); err != nil {
		t.Fatal(err)
	}
	w := &workload{t: t, addr: addr, root: root, stopProduce: make(chan struct{}), stopWorkers: make(chan struct{}),
		hist: History{Input: inputTopic, Outputs: []string{goOutput, pyOutput}}}
	for i := 0; i < 3; i++ {
		w.wg.Add(1)
		go w.produce(ctx, fmt.Sprintf("p%d", i))
	}
	for i := 0; i < 2; i++ {
		w.workers.Add(1)
		go w.goWorker(ctx, fmt.Sprintf("go%d", i))
	}
	w.workers.Add(1)
	go w.pyWorker(ctx, "py0")

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := time.Now()
	for c := 0; c < cycles; c++ {
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		if pause {
			// Long enough, sometimes, for clients to time out requests
			// (RequestTimeoutOverhead, socket.timeout.ms) and retry.
			srv.Pause(t)
			time.Sleep(time.Duration(100+rng.IntN(3500)) * time.Millisecond)
			srv.Resume(t)
		} else {
			srv.Kill(t)
			if c%4 == 3 {
				w.killPython() // a worker crash too: its open transaction must abort
			}
			srv = brokerproc.Start(t, eddyBin, dir, addr, brokerFlags...)
		}
		if c%10 == 9 {
			w.read(ctx, fmt.Sprintf("after cycle %d", c+1), false, inputTopic, goOutput, pyOutput)
		}
	}
	faults := time.Since(start)

	// Quiesce: producers finish, workers catch up with the input, then stop.
	close(w.stopProduce)
	w.wg.Wait()
	w.waitCaughtUp(ctx, adm, "eos-go", "eos-py")
	close(w.stopWorkers)
	w.workers.Wait()
	w.waitStable(ctx, adm, goOutput, pyOutput)

	w.read(ctx, "final", true, goOutput, pyOutput)
	w.read(ctx, "final", false, inputTopic, goOutput, pyOutput)
	srv.Stop(t)
	srv = brokerproc.Start(t, eddyBin, dir, addr, brokerFlags...)
	w.read(ctx, "after restart", false, goOutput, pyOutput)
	w.read(ctx, "after restart", true, goOutput, pyOutput)
	w.read(ctx, "after restart", false, inputTopic)

	// The cleaner compacted the coordinators' logs during the run.
	for _, internal := range []string{"__consumer_offsets", "__transaction_state"} {
		if _, err := os.Stat(filepath.Join(dir, "topics", internal, "0", "cleaner-offset-checkpoint")); err != nil {
			t.Errorf("%s was never compacted: %v", internal, err)
		}
	}

	r := Check(w.hist)
	kind := "SIGKILL"
	if pause {
		kind = "SIGSTOP"
	}
	t.Logf("%d %s cycles in %v, %d python workers started: %v", cycles, kind, faults.Round(time.Millisecond), w.pyRuns, r)
	for _, e := range r.Examples {
		t.Log(e)
	}
	if r.Anomalies() != 0 {
		t.Fatalf("%d anomalies (broker log tail: %s)", r.Anomalies(), srv.Log())
	}
	if r.Acked == 0 || r.Transactions[Committed] == 0 {
		t.Fatalf("the workload did nothing: %v", r)
	}
	for _, out := range w.hist.Outputs {
		if !w.committedBy(out) {
			t.Fatalf("no committed transaction wrote %s", out)
		}
	}
}

// committedBy reports whether a committed transaction wrote output.
func (w *workload) committedBy(output string) bool {
	for _, tx := range w.hist.Txns {
		if tx.Outcome == Committed && strings.HasPrefix(tx.ID, output+":") {
			return true
		}
	}
	return false
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// produce writes producer's records, InputValue(producer, seq), round
// robin over the input's partitions, idempotent with acks=all (franz-go's
// defaults), retrying through every fault, until stopProduce.
func (w *workload) produce(ctx context.Context, producer string) {
	defer w.wg.Done()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.addr), kgo.DefaultProduceTopic(inputTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2*time.Millisecond),
		kgo.MaxBufferedRecords(500), kgo.RequestTimeoutOverhead(2*time.Second))
	if err != nil {
		w.t.Error(err)
		return
	}
	defer cl.Close()
	for seq := 0; ; seq++ {
		select {
		case <-w.stopProduce:
			fctx, c := context.WithTimeout(ctx, 2*time.Minute)
			defer c()
			if err := cl.Flush(fctx); err != nil {
				w.t.Errorf("%s: flush: %v", producer, err)
			}
			return
		default:
		}
		v := InputValue(producer, seq)
		cl.Produce(ctx, &kgo.Record{Partition: int32(seq % partitions), Key: []byte(producer), Value: []byte(v)}, func(r *kgo.Record, err error) {
			if err != nil {
				return // not acknowledged: may or may not be stored
			}
			w.mu.Lock()
			w.hist.Writes = append(w.hist.Writes, Write{r.Partition, r.Offset, v})
			w.mu.Unlock()
		})
		time.Sleep(3 * time.Millisecond)
	}
}

// goWorker copies the input to goOutput with franz-go's
// GroupTransactSession in group eos-go, one transaction per poll. A
// session whose End fails is closed and replaced (same transactional id);
// so is one in 25 in the middle of a transaction, as if the worker
// crashed, half of the time under a new transactional id.
func (w *workload) goWorker(ctx context.Context, worker string) {
	defer w.workers.Done()
	n, gen := 0, 0
	for {
		select {
		case <-w.stopWorkers:
			return
		default:
		}
		sess, err := kgo.NewGroupTransactSession(
			kgo.SeedBrokers(w.addr),
			kgo.TransactionalID(fmt.Sprintf("eos-%s-%d", worker, gen)),
			kgo.TransactionTimeout(10*time.Second),
			kgo.ConsumerGroup("eos-go"),
			kgo.ConsumeTopics(inputTopic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
			kgo.SessionTimeout(10*time.Second),
			kgo.DefaultProduceTopic(goOutput),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(time.Millisecond),
			kgo.RequestTimeoutOverhead(2*time.Second),
		)
		if err != nil {
			w.t.Error(err)
			return
		}
		if crashed := w.runSession(ctx, sess, worker, &n); crashed && rand.IntN(2) == 0 {
			// The crashed worker comes back under a new transactional
			// id: nobody fences the old one, whose open transaction the
			// coordinator must abort when its timeout expires.
			gen++
		}
		sess.Close()
	}
}

// runSession runs transactions until stopWorkers, an error, or a simulated
// crash (crashed).
func (w *workload) runSession(ctx context.Context, sess *kgo.GroupTransactSession, worker string, n *int) (crashed bool) {
	for {
		select {
		case <-w.stopWorkers:
			return false
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := sess.PollRecords(pctx, 100)
		cancel()
		if fs.IsClientClosed() {
			return false
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			w.t.Logf("%s: begin: %v", worker, err)
			return false
		}
		*n++
		id := TxnID(goOutput, worker, *n)
		count := 0
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Partition: r.Partition, Key: r.Key, Value: []byte(OutputValue(id, r.Partition, r.Offset, string(r.Value)))}, nil)
			count++
		})
		if rand.IntN(25) == 0 {
			// The worker "crashes" mid-transaction: its records are in
			// the log, and the transaction is left open until the next
			// session's InitProducerId (same transactional id) aborts it.
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			sess.Client().Flush(fctx)
			cancel()
			w.addTxn(Txn{ID: id, Records: count, Outcome: Unknown})
			return true
		}
		// One transaction in ten aborts on purpose: its copies must never
		// be read committed, and the session rewinds to copy them again.
		end := kgo.TryCommit
		if rand.IntN(10) == 0 {
			end = kgo.TryAbort
		}
		ectx, cancel := context.WithTimeout(ctx, time.Minute)
		committed, err := sess.End(ectx, end)
		cancel()
		tx := Txn{ID: id, Records: count, Outcome: Aborted}
		switch {
		case err != nil:
			tx.Outcome = Unknown
		case committed:
			tx.Outcome = Committed
		}
		w.addTxn(tx)
		if err != nil {
			w.t.Logf("%s: end of transaction %s: %v (new session)", worker, id, err)
			return false
		}
	}
}

// pyWorker runs testdata/eos_worker.py (confluent-kafka) in group eos-py,
// copying the input to pyOutput, and starts it again (same transactional
// id, a new worker name) whenever it exits before stopWorkers.
func (w *workload) pyWorker(ctx context.Context, worker string) {
	defer w.workers.Done()
	for run := 1; ; run++ {
		name := fmt.Sprintf("%s.%d", worker, run)
		logf, err := os.OpenFile(filepath.Join(w.root, worker+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			w.t.Error(err)
			return
		}
		cmd := exec.CommandContext(ctx, python, "testdata/eos_worker.py", w.addr, "eos-py", inputTopic, pyOutput, "eos-"+worker, name)
		cmd.Stderr = logf
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			logf.Close()
			w.t.Error(err)
			return
		}
		w.mu.Lock()
		w.pyCmd = cmd
		w.pyRuns++
		w.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.journal(stdout)
		}()
		exited := make(chan error, 1)
		go func() { <-done; exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			fmt.Fprintf(logf, "worker %s exited: %v\n", name, err)
			logf.Close()
			continue // a fatal error: start a new one, which fences this one
		case <-w.stopWorkers:
		}
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				w.t.Logf("python worker %s: %v", name, err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			w.t.Errorf("python worker %s did not stop", name)
		}
		logf.Close()
		return
	}
}

// killPython SIGKILLs the python worker; pyWorker starts a new one.
func (w *workload) killPython() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pyCmd != nil && w.pyCmd.Process != nil {
		w.pyCmd.Process.Kill()
	}
}

// journal records the "txn <id> <records> <outcome>" lines of a python
// worker.
func (w *workload) journal(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "txn" {
			continue
		}
		n, _ := strconv.Atoi(f[2])
		tx := Txn{ID: f[1], Records: n}
		switch f[3] {
		case "committed":
			tx.Outcome = Committed
		case "aborted":
			tx.Outcome = Aborted
		}
		w.addTxn(tx)
	}
}

// waitCaughtUp waits until each group's committed offsets reach the end
// of the input.
func (w *workload) waitCaughtUp(ctx context.Context, adm *kadm.Client, groups ...string) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ends, err := adm.ListEndOffsets(ctx, inputTopic)
		behind := ""
		if err != nil {
			behind = err.Error()
		}
		for _, g := range groups {
			offs, err := adm.FetchOffsets(ctx, g)
			if err != nil {
				behind += " " + err.Error()
				continue
			}
			ends.Each(func(e kadm.ListedOffset) {
				if o, ok := offs.Lookup(inputTopic, e.Partition); !ok || o.At != e.Offset {
					behind += fmt.Sprintf(" %s/%d at %d of %d", g, e.Partition, o.At, e.Offset)
				}
			})
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("workers did not catch up: %s", behind)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitStable waits until no transaction is open on the topics: the last
// stable offset of every partition reaches its high watermark.
func (w *workload) waitStable(ctx context.Context, adm *kadm.Client, topics ...string) {
	deadline := time.Now().Add(time.Minute)
	for {
		hw, err1 := adm.ListEndOffsets(ctx, topics...)
		lso, err2 := adm.ListCommittedOffsets(ctx, topics...)
		open := ""
		if err := errors.Join(err1, err2); err != nil {
			open = err.Error()
		} else {
			hw.Each(func(o kadm.ListedOffset) {
				if l, ok := lso.Lookup(o.Topic, o.Partition); !ok || l.Offset != o.Offset {
					open += fmt.Sprintf(" %s/%d lso %d hw %d", o.Topic, o.Partition, l.Offset, o.Offset)
				}
			})
		}
		if open == "" {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("transactions still open: %s", open)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// read reads every partition of each topic from its start to its end
// offset (as of the start of the read) and adds the reads to the history.
// Control records are kept by the client, so the read knows when it has
// reached an end made of transaction markers.
func (w *workload) read(ctx context.Context, label string, committed bool, topics ...string) {
	t := w.t
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	adm := newAdmin(t, w.addr)
	for _, topic := range topics {
		var ends kadm.ListedOffsets
		for {
			var err error
			ends, err = adm.ListEndOffsets(ctx, topic)
			if err == nil && ends.Error() == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("end offsets of %s: %v", topic, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		want := map[int32]int64{}
		offsets := map[int32]kgo.Offset{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 {
				want[o.Partition] = o.Offset
				offsets[o.Partition] = kgo.NewOffset().AtStart()
			}
		})
		rd := Read{Topic: topic, Label: label, Committed: committed}
		if len(want) > 0 {
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.addr), kgo.FetchIsolationLevel(level), kgo.KeepControlRecords(),
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			for len(want) > 0 {
				fs := cl.PollFetches(rctx)
				if rctx.Err() != nil {
					t.Fatalf("reading %s (%s): %v, still to read %v", topic, label, rctx.Err(), want)
				}
				fs.EachRecord(func(r *kgo.Record) {
					if !r.Attrs.IsControl() {
						rd.Records = append(rd.Records, Record{r.Partition, r.Offset, string(r.Value)})
					}
					if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
						delete(want, r.Partition)
					}
				})
			}
			cancel()
			cl.Close()
		}
		w.mu.Lock()
		w.hist.Reads = append(w.hist.Reads, rd)
		w.mu.Unlock()
	}
}
