package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProduceKeySeparatorAndHeaders(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)

	out := c.ok("k1:v1\nk2:v:2\r\nnokey\n\nlast:no-newline", "produce", topic,
		"--key-separator", ":", "-H", "src=test", "-H", "n=1")
	if !strings.Contains(out, "Produced 5 records to topic "+topic) {
		t.Fatalf("produce output: %q", out)
	}
	out = c.ok("", "consume", topic, "--from-beginning", "-n", "5",
		"--format", `%p/%o key=%k(%K) value=%v(%V) headers=%h topic=%T\n`)
	want := []string{
		"0/0 key=k1(2) value=v1(2) headers=src=test,n=1 topic=" + topic,
		"0/1 key=k2(2) value=v:2(3) headers=src=test,n=1 topic=" + topic,
		"0/2 key=(0) value=nokey(5) headers=src=test,n=1 topic=" + topic,
		"0/3 key=(0) value=(0) headers=src=test,n=1 topic=" + topic,
		"0/4 key=last(4) value=no-newline(10) headers=src=test,n=1 topic=" + topic,
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, want) {
		t.Fatalf("consumed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProduceOptions(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(3)
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, "record-%d\n", i)
	}
	for _, comp := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		for _, acks := range []string{"all", "1"} {
			out := c.ok(in.String(), "produce", topic, "--partition", "2", "--compression", comp, "--acks", acks)
			if !strings.Contains(out, "Produced 20 records") {
				t.Fatalf("compression %s acks %s: %q", comp, acks, out)
			}
		}
	}
	// acks=0 gets no response, so wait for the records to appear instead.
	c.ok(in.String(), "produce", topic, "--partition", "2", "--acks", "0")
	const total = 5*2*20 + 20
	out := c.ok("", "consume", topic, "--partitions", "2", "--offset", "start", "-n", fmt.Sprint(total), "--format", `%p %v\n`)
	got := lines(out)
	if len(got) != total {
		t.Fatalf("consumed %d records, want %d", len(got), total)
	}
	for i, l := range got {
		if want := fmt.Sprintf("2 record-%d", i%20); l != want {
			t.Fatalf("record %d = %q, want %q", i, l, want)
		}
	}
	desc := c.ok("", "topic", "describe", topic)
	part := desc[strings.Index(desc, "PARTITIONS\n==="):]
	if f := fields(part, "2"); len(f) != 6 || f[5] != fmt.Sprint(total) {
		t.Fatalf("partition 2 row = %v, want high watermark %d", f, total)
	}
	if f := fields(part, "0"); len(f) != 6 || f[5] != "0" {
		t.Fatalf("partition 0 row = %v, want empty", f)
	}

	for _, bad := range [][]string{
		{"--compression", "brotli"},
		{"--acks", "2"},
		{"-H", "novalue"},
	} {
		if r := c.fail("x\n", append([]string{"produce", topic}, bad...)...); r.err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}

func TestProduceFailureExitsNonZero(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)
	r := c.fail("a\nb\n", "produce", topic, "--partition", "7")
	if !strings.Contains(r.stdout, "Produced 0 of 2 records") || !strings.Contains(r.err.Error(), "2 of 2 records failed") {
		t.Fatalf("stdout %q, err %v", r.stdout, r.err)
	}
}

func TestConsumeOffsets(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)
	var first strings.Builder
	for i := range 10 {
		fmt.Fprintf(&first, "r%d\n", i)
	}
	c.ok(first.String(), "produce", topic)

	if got := lines(c.ok("", "consume", topic, "--offset", "7", "-n", "3")); !slices.Equal(got, []string{"r7", "r8", "r9"}) {
		t.Fatalf("--offset 7: %v", got)
	}
	if got := lines(c.ok("", "consume", topic, "--offset", "start", "-n", "2")); !slices.Equal(got, []string{"r0", "r1"}) {
		t.Fatalf("--offset start: %v", got)
	}
	if got := lines(c.ok("", "consume", topic, "--from-beginning", "-n", "1", "-f", `%o:%v\n`)); !slices.Equal(got, []string{"0:r0"}) {
		t.Fatalf("--from-beginning: %v", got)
	}

	// Records produced after ts have timestamps >= ts; earlier ones < ts.
	time.Sleep(5 * time.Millisecond)
	ts := time.Now().UnixMilli()
	time.Sleep(5 * time.Millisecond)
	c.ok("s0\ns1\ns2\n", "produce", topic)
	for _, off := range []string{"@" + strconv.FormatInt(ts, 10), "@" + time.UnixMilli(ts).UTC().Format(time.RFC3339Nano)} {
		out := c.ok("", "consume", topic, "--offset", off, "-n", "3", "--format", `%t %o %v\n`)
		got := lines(out)
		if len(got) != 3 {
			t.Fatalf("--offset %s: %q", off, out)
		}
		for i, l := range got {
			f := strings.Fields(l)
			ms, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || ms < ts || f[1] != fmt.Sprint(10+i) || f[2] != fmt.Sprintf("s%d", i) {
				t.Fatalf("--offset %s line %d = %q (ts %d)", off, i, l, ts)
			}
		}
	}

	for _, bad := range []string{"middle", "-3", "@yesterday"} {
		if r := c.fail("", "consume", topic, "--offset", bad, "-n", "1"); !strings.Contains(r.err.Error(), "--offset") {
			t.Fatalf("--offset %s: %v", bad, r.err)
		}
	}
	if r := c.fail("", "consume", topic, "-n", "1", "--format", "%z"); !strings.Contains(r.err.Error(), "unknown directive") {
		t.Fatalf("bad format: %v", r.err)
	}
}

// TestConsumeFromEnd starts a consumer at the end and produces until it has
// seen two new records, then checks it never saw the old ones.
func TestConsumeFromEnd(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(2)
	c.ok("old1\nold2\nold3\n", "produce", topic)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- eddy(ctx, c.brokers, "", "consume", topic, "-n", "2") }()
	var r result
	for i := 0; ; i++ {
		select {
		case r = <-done:
		case <-time.After(50 * time.Millisecond):
			c.ok(fmt.Sprintf("new%d\n", i), "produce", topic)
			continue
		}
		break
	}
	if r.err != nil {
		t.Fatalf("consume: %v", r.err)
	}
	got := lines(r.stdout)
	if len(got) != 2 {
		t.Fatalf("consumed %q, want 2 records", r.stdout)
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "new") {
			t.Fatalf("consume from end returned %q", l)
		}
	}
}

// TestConsumeUntilCancelled runs a consumer without -n and checks that
// cancelling its context (what Ctrl-C does) ends it cleanly after the
// records were printed.
func TestConsumeUntilCancelled(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(3)
	c.ok("a\nb\nc\nd\n", "produce", topic)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{want: 4, done: make(chan struct{})}
	root := NewRoot()
	root.SetArgs([]string{"consume", topic, "--from-beginning", "--brokers", strings.Join(c.brokers, ","), "--log-level", "error"})
	root.SetOut(out)
	errc := make(chan error, 1)
	go func() { errc <- root.ExecuteContext(ctx) }()
	select {
	case <-out.done:
	case err := <-errc:
		t.Fatalf("consume ended early: %v\n%s", err, out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out; got %q", out.String())
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("consume after cancel: %v", err)
	}
	got := lines(out.String())
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("consumed %v", got)
	}
}

func TestConsumeGroup(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)
	group := "g-" + topic
	c.ok("r0\nr1\nr2\nr3\n", "produce", topic)

	if got := lines(c.ok("", "consume", topic, "--group", group, "--from-beginning", "-n", "2")); !slices.Equal(got, []string{"r0", "r1"}) {
		t.Fatalf("first group consume: %v", got)
	}
	// The group resumes from its committed offset, not from --offset.
	if got := lines(c.ok("", "consume", topic, "-g", group, "--offset", "start", "-n", "2")); !slices.Equal(got, []string{"r2", "r3"}) {
		t.Fatalf("second group consume: %v", got)
	}
	if r := c.fail("", "consume", topic, "-g", group, "--partitions", "0"); !strings.Contains(r.err.Error(), "--group") {
		t.Fatalf("--group with --partitions: %v", r.err)
	}
}
