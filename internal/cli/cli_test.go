package cli

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/cli/testbroker"
)

// startTestBroker returns the seed brokers the tests run against. It is the
// single switch between kfake and Eddy's own broker (see package
// testbroker; EDDY_TEST_BROKERS points the tests at a running cluster).
func startTestBroker(t *testing.T) []string {
	t.Helper()
	return testbroker.Start(t)
}

// topicSeq makes topic names unique within a run.
var topicSeq atomic.Int64

// uniqueTopic returns a topic name unique to this test and run, so that
// tests also work against a shared external cluster.
func uniqueTopic(t *testing.T) string {
	name := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("%s-%d-%d", strings.ToLower(name), time.Now().UnixNano()%1e9, topicSeq.Add(1))
}

// result is the outcome of one in-process eddy invocation.
type result struct {
	stdout, stderr string
	err            error
}

// eddy runs the eddy command tree in-process with args, stdin and the given
// brokers (nil: no --brokers flag), capturing stdout and stderr.
func eddy(ctx context.Context, brokers []string, stdin string, args ...string) result {
	root := NewRoot()
	if brokers != nil {
		args = append(args, "--brokers", strings.Join(brokers, ","))
	}
	args = append(args, "--log-level", "error")
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	return result{out.String(), errb.String(), err}
}

// cluster bundles a test's brokers with helpers to run commands.
type cluster struct {
	t       *testing.T
	brokers []string
}

func newCluster(t *testing.T) *cluster {
	t.Parallel()
	return &cluster{t: t, brokers: startTestBroker(t)}
}

// run executes one command with a generous per-command timeout.
func (c *cluster) run(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return eddy(ctx, c.brokers, stdin, args...)
}

// ok executes a command that must succeed and returns its stdout.
func (c *cluster) ok(stdin string, args ...string) string {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.err != nil {
		c.t.Fatalf("eddy %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// fail executes a command that must fail and returns its result.
func (c *cluster) fail(stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.err == nil {
		c.t.Fatalf("eddy %s: succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	return r
}

// createTopic creates a uniquely named topic with the given partitions.
func (c *cluster) createTopic(partitions int, extra ...string) string {
	c.t.Helper()
	topic := uniqueTopic(c.t)
	c.ok("", append([]string{"topic", "create", topic, "-p", fmt.Sprint(partitions), "-r", "1"}, extra...)...)
	return topic
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fields returns the whitespace-separated cells of the first line of out
// whose first cell is key, or nil.
func fields(out, key string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == key {
			return f
		}
	}
	return nil
}

// syncBuffer is an io.Writer safe to read while a command writes to it; it
// signals when the output has at least want lines.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want int
	done chan struct{}
	once sync.Once
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if strings.Count(b.buf.String(), "\n") >= b.want {
		b.once.Do(func() { close(b.done) })
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
