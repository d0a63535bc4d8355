package crashtest

import (
	"bufio"
	"context"
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

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdempotentClientsThroughRestarts runs three idempotent producers at
// once, each on its own topic: kcat (librdkafka, -X enable.idempotence=true),
// confluent-kafka (enable.idempotence=true) and franz-go (idempotent by
// default), while the broker is alternately SIGKILLed and stopped cleanly
// with SIGTERM, and restarted. Every record a client acknowledged must be
// stored, none twice, and each partition's records in the order they were
// sent: the broker recognises the clients' retries of batches it had
// already written from the producer state it recovered.
func TestIdempotentClientsThroughRestarts(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err == nil {
		err = exec.Command("/usr/bin/python3", "-c", "import confluent_kafka").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs kcat and /usr/bin/python3 with confluent_kafka: %v", err)
		}
		t.Skipf("needs kcat and /usr/bin/python3 with confluent_kafka: %v", err)
	}
	cycles := 8
	if testing.Short() {
		cycles = 2
	}
	const partitions = 2
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	srv := start(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	createTopics(ctx, t, addr, partitions, "idem-kcat", "idem-py", "idem-go")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := map[string]*idemResult{}
	for _, name := range []string{"kcat", "py", "go"} {
		results[name] = &idemResult{acked: map[int]bool{}}
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, kcat, "-P", "-E", "-b", addr, "-t", "idem-kcat",
			"-X", "enable.idempotence=true", "-X", "acks=all", "-X", "message.timeout.ms=300000",
			"-X", "linger.ms=2", "-X", "reconnect.backoff.max.ms=500")
		runLineProducer(t, cmd, stop, results["kcat"], func(out io.Reader, r *idemResult) {
			// kcat prints nothing for delivered records; failures go to
			// stderr as "Delivery failed".
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "Delivery failed") {
					r.fail(sc.Text())
				}
			}
		}, true)
	}()
	go func() {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/idempotent_producer.py", addr, "idem-py")
		runLineProducer(t, cmd, stop, results["py"], func(out io.Reader, r *idemResult) {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) == 4 && f[0] == "ack":
					v, _ := strconv.Atoi(f[3])
					r.ack(v)
				case len(f) > 0 && f[0] == "failed":
					r.fail(sc.Text())
				}
			}
		}, false)
	}()
	go func() {
		defer wg.Done()
		produceIdempotentGo(ctx, t, addr, stop, results["go"])
	}()

	rng := rand.New(rand.NewPCG(5, 6))
	for c := 0; c < cycles; c++ {
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		if c%2 == 0 {
			srv.kill(t)
		} else {
			srv.stop(t)
		}
		srv = start(t, dir, addr)
	}
	close(stop)
	wg.Wait()
	defer srv.stop(t)

	for _, name := range []string{"kcat", "py", "go"} {
		r := results[name]
		if len(r.failures) > 0 {
			t.Errorf("%s: %d records failed, e.g. %s", name, len(r.failures), r.failures[0])
		}
		if len(r.acked) == 0 {
			t.Fatalf("%s: nothing acknowledged; the test proves nothing", name)
		}
		got := readAllTopic(t, ctx, addr, "idem-"+name, partitions)
		seen := map[int]bool{}
		for p, vals := range got {
			last := -1
			for _, v := range vals {
				if seen[v] {
					t.Errorf("%s: record %d stored twice", name, v)
				}
				seen[v] = true
				if v <= last {
					t.Errorf("%s: partition %d holds %d after %d", name, p, v, last)
				}
				last = v
			}
		}
		lost := 0
		for v := range r.acked {
			if !seen[v] {
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d acknowledged records lost", name, lost)
		}
		t.Logf("%s: %d sent, %d acknowledged, %d stored, no duplicates, none lost, in order", name, r.sent, len(r.acked), len(seen))
	}
	t.Logf("%d restarts (SIGKILL and SIGTERM alternately)", cycles)
}

// idemResult is what one producer sent and had acknowledged.
type idemResult struct {
	mu       sync.Mutex
	sent     int
	acked    map[int]bool
	failures []string
}

func (r *idemResult) ack(v int) {
	r.mu.Lock()
	r.acked[v] = true
	r.mu.Unlock()
}

func (r *idemResult) fail(s string) {
	r.mu.Lock()
	r.failures = append(r.failures, s)
	r.mu.Unlock()
}

// runLineProducer feeds cmd's stdin with increasing numbers, one a line,
// until stop, then closes stdin and waits for the client to deliver
// everything and exit. parse reads the client's stdout (or, with
// fromStderr, its stderr). A client that reports no acknowledgements
// (kcat) has every line acknowledged when it exits successfully.
func runLineProducer(t *testing.T, cmd *exec.Cmd, stop <-chan struct{}, r *idemResult, parse func(io.Reader, *idemResult), fromStderr bool) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Error(err)
		return
	}
	var out io.ReadCloser
	if fromStderr {
		out, err = cmd.StderrPipe()
	} else {
		out, err = cmd.StdoutPipe()
		// librdkafka logs every lost connection: keep it out of the test log.
		cmd.Stderr = io.Discard
	}
	if err != nil {
		t.Error(err)
		return
	}
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	parsed := make(chan struct{})
	go func() { defer close(parsed); parse(out, r) }()
	w := bufio.NewWriter(stdin)
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			w.Flush()
			stdin.Close()
			<-parsed
			err := cmd.Wait()
			if err != nil {
				t.Errorf("%s: %v", cmd.Path, err)
				return
			}
			r.mu.Lock()
			r.sent = seq
			if fromStderr && len(r.failures) == 0 {
				for v := 0; v < seq; v++ {
					r.acked[v] = true
				}
			}
			r.mu.Unlock()
			return
		default:
		}
		fmt.Fprintf(w, "%d\n", seq)
		if seq%10 == 9 {
			w.Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// produceIdempotentGo is the franz-go producer: its defaults are
// idempotent, acks=all, retrying without limit.
func produceIdempotentGo(ctx context.Context, t *testing.T, addr string, stop <-chan struct{}, r *idemResult) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("idem-go"), kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			if err := cl.Flush(ctx); err != nil {
				t.Errorf("franz-go flush: %v", err)
			}
			r.mu.Lock()
			r.sent = seq
			r.mu.Unlock()
			return
		default:
		}
		cl.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(seq))}, func(_ *kgo.Record, err error) {
			if err != nil {
				r.fail(err.Error())
				return
			}
			r.ack(seq)
		})
		if seq%10 == 9 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
