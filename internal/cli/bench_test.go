package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// benchFigure returns the numeric value of a "KEY  value" line of a bench
// report section, failing the test if it is missing or malformed.
func benchFigure(t *testing.T, section, key string) float64 {
	t.Helper()
	f := fields(section, key)
	if len(f) < 2 {
		t.Fatalf("no %s line in:\n%s", key, section)
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", key, f[1], err)
	}
	return v
}

// reportSection returns the part of out from the section title on.
func reportSection(t *testing.T, out, title string) string {
	t.Helper()
	i := strings.Index(out, title+"\n"+strings.Repeat("=", len(title)))
	if i < 0 {
		t.Fatalf("no %q section in:\n%s", title, out)
	}
	return out[i:]
}

// checkLatencyRow checks a latency table row: count and ordered, positive
// percentiles.
func checkLatencyRow(t *testing.T, section, name string, count int) {
	t.Helper()
	f := fields(section, name)
	// NAME COUNT MIN MEAN P50 P90 P99 P99.9 MAX
	if len(f) != 9 {
		t.Fatalf("%s latency row = %v in:\n%s", name, f, section)
	}
	if f[1] != strconv.Itoa(count) {
		t.Fatalf("%s latency count = %s, want %d", name, f[1], count)
	}
	var prev float64
	for _, i := range []int{2, 4, 5, 6, 7, 8} { // min, p50, p90, p99, p99.9, max
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[i], "ms"), 64)
		if err != nil || v < prev {
			t.Fatalf("%s latency row %v not ordered at column %d", name, f, i)
		}
		prev = v
	}
	if prev <= 0 {
		t.Fatalf("%s max latency %v not positive", name, prev)
	}
}

// diskRow returns the cells after the label of the disk baseline row whose
// label ends with suffix (up to a closing parenthesis, if any).
func diskRow(out, suffix string) []string {
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, suffix); i >= 0 {
			rest := l[i+len(suffix):]
			if j := strings.Index(rest, ")"); j >= 0 {
				rest = rest[j+1:]
			}
			return strings.Fields(rest)
		}
	}
	return nil
}

func TestBenchProduce(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "produce", "--topic", uniqueTopic(t), "--partitions", "2",
		"--records", "300", "--record-size", "64", "--producers", "2", "--compression", "lz4",
		"--batch-max-bytes", "16KiB", "--linger", "1ms",
		"--disk-baseline", t.TempDir(), "--disk-baseline-size", "2MiB", "--disk-baseline-chunk", "256KiB", "--disk-sync-every", "512KiB",
		"--disk-baseline-duration", "300ms")

	// Disk baseline: every run with a positive speed; 2 MiB / 512 KiB = 4
	// syncs; the sustained run lasts --disk-baseline-duration.
	if !strings.Contains(out, "disk baseline: ") {
		t.Fatalf("no disk baseline in:\n%s", out)
	}
	for label, syncs := range map[string]string{"sync at end": "1", "sync every 512 KiB": "4", "sustained 300ms": ""} {
		f := diskRow(out, label)
		if len(f) < 2 || (syncs != "" && f[1] != syncs) {
			t.Fatalf("disk row %q = %v, want %s syncs:\n%s", label, f, syncs, out)
		}
		if v, err := strconv.ParseFloat(f[0], 64); err != nil || v <= 0 {
			t.Fatalf("disk row %q MB/s = %q", label, f[0])
		}
	}

	s := reportSection(t, out, "produce")
	if got := benchFigure(t, s, "RECORDS"); got != 300 {
		t.Fatalf("RECORDS = %v, want 300", got)
	}
	if got := benchFigure(t, s, "BYTES"); got != 300*64 {
		t.Fatalf("BYTES = %v, want %d", got, 300*64)
	}
	if benchFigure(t, s, "RECORDS/S") <= 0 || benchFigure(t, s, "MB/S") <= 0 {
		t.Fatalf("rates not positive:\n%s", s)
	}
	checkLatencyRow(t, s, "ack", 300)
}

func TestBenchConsumeFill(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "consume", "--fill", "--topic", uniqueTopic(t), "--partitions", "3",
		"--records", "250", "--record-size", "32", "--skip-disk-baseline")
	if strings.Contains(out, "disk baseline") {
		t.Fatalf("--skip-disk-baseline ignored:\n%s", out)
	}
	fill := reportSection(t, out, "fill (produce)")
	if got := benchFigure(t, fill, "RECORDS"); got != 250 {
		t.Fatalf("fill RECORDS = %v", got)
	}
	s := reportSection(t, out, "consume")
	if got := benchFigure(t, s, "RECORDS"); got != 250 {
		t.Fatalf("consume RECORDS = %v, want 250", got)
	}
	if got := benchFigure(t, s, "BYTES"); got != 250*32 {
		t.Fatalf("consume BYTES = %v", got)
	}
	if benchFigure(t, s, "RECORDS/S") <= 0 {
		t.Fatalf("consume rate not positive:\n%s", s)
	}

	// Consuming an empty topic is an error, not a zero result.
	topic := c.createTopic(1)
	if r := c.fail("", "bench", "consume", "--topic", topic, "--skip-disk-baseline"); !strings.Contains(r.err.Error(), "empty") {
		t.Fatalf("empty topic: %v", r.err)
	}
}

func TestBenchE2E(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "e2e", "--topic", uniqueTopic(t), "--partitions", "2",
		"--records", "200", "--rate", "4000", "--skip-disk-baseline")
	s := reportSection(t, out, "e2e")
	if got := benchFigure(t, s, "RECORDS"); got != 200 {
		t.Fatalf("RECORDS = %v, want 200:\n%s", got, s)
	}
	if got := benchFigure(t, s, "PRODUCED"); got != 200 {
		t.Fatalf("PRODUCED = %v", got)
	}
	checkLatencyRow(t, s, "ack", 200)
	checkLatencyRow(t, s, "end-to-end", 200)
}

func TestBenchFlagErrors(t *testing.T) {
	c := newCluster(t)
	for _, args := range [][]string{
		{"bench", "produce", "--skip-disk-baseline", "--records", "1", "--acks", "2"},
		{"bench", "produce", "--skip-disk-baseline", "--records", "1", "--compression", "xz"},
		{"bench", "e2e", "--skip-disk-baseline", "--records", "1", "--record-size", "4"},
		{"bench", "produce", "--disk-baseline-size", "lots"},
		{"bench", "disk", "--disk-baseline", "/nonexistent/dir"},
	} {
		c.fail("", args...)
	}
	var b byteSize
	for in, want := range map[string]int64{"1048576": 1 << 20, "4MiB": 4 << 20, "512k": 512 << 10, "1 GB": 1 << 30, "7B": 7} {
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Fatalf("byteSize %q = %d, %v; want %d", in, b, err, want)
		}
	}
}

func TestBenchRawClient(t *testing.T) {
	c := newCluster(t)
	topic := uniqueTopic(t)
	common := []string{"--topic", topic, "--partitions", "3", "--client", "raw", "--skip-disk-baseline",
		"--record-size", "48", "--batch-max-bytes", "2KiB", "--in-flight", "3", "--fetch-max-bytes", "4KiB"}
	out := c.ok("", append([]string{"bench", "produce", "--records", "400"}, common...)...)
	s := reportSection(t, out, "produce")
	if f := fields(s, "CLIENT"); len(f) != 2 || f[1] != "raw" {
		t.Fatalf("CLIENT line %v in:\n%s", f, s)
	}
	if got := benchFigure(t, s, "RECORDS"); got != 400 {
		t.Fatalf("RECORDS = %v, want 400", got)
	}
	if got := benchFigure(t, s, "BYTES"); got != 400*48 {
		t.Fatalf("BYTES = %v", got)
	}
	// 2 KiB batches hold about 35 records of 48 bytes.
	reqs := benchFigure(t, s, "REQUESTS")
	if reqs < 400/40 {
		t.Fatalf("REQUESTS = %v for 400 records in 2 KiB batches", reqs)
	}
	checkLatencyRow(t, s, "ack/request", int(reqs))

	out = c.ok("", append([]string{"bench", "consume"}, common...)...)
	s = reportSection(t, out, "consume")
	if got := benchFigure(t, s, "RECORDS"); got != 400 {
		t.Fatalf("consume RECORDS = %v, want 400:\n%s", got, s)
	}
	if !strings.Contains(s, "(record batches") || benchFigure(t, s, "BYTES") <= 400*48 {
		t.Fatalf("raw consume BYTES should count whole batches:\n%s", s)
	}

	out = c.ok("", append([]string{"bench", "e2e", "--records", "300", "--rate", "3000", "--linger", "2ms"}, common...)...)
	s = reportSection(t, out, "e2e")
	if got := benchFigure(t, s, "RECORDS"); got != 300 {
		t.Fatalf("e2e RECORDS = %v, want 300:\n%s", got, s)
	}
	if !strings.Contains(s, "TARGET RATE  3000 records/s") {
		t.Fatalf("no target rate in:\n%s", s)
	}
	checkLatencyRow(t, s, "ack", 300)
	checkLatencyRow(t, s, "end-to-end", 300)

	for _, args := range [][]string{
		{"bench", "produce", "--skip-disk-baseline", "--records", "1", "--client", "fast"},
		{"bench", "consume", "--skip-disk-baseline", "--topic", topic, "--client", "fast"},
		{"bench", "e2e", "--skip-disk-baseline", "--records", "1", "--rate", "10", "--client", "raw", "--compression", "lz4"},
		{"bench", "consume", "--skip-disk-baseline", "--fetch-max-bytes", "3GiB"},
	} {
		c.fail("", args...)
	}
}

func TestBenchAll(t *testing.T) {
	c := newCluster(t)
	r := c.run("", "bench", "all", "--topic", uniqueTopic(t), "--partitions", "2",
		"--phase-duration", "150ms", "--record-sizes", "64,200", "--batch-max-bytes", "8KiB", "--in-flight", "2",
		"--disk-baseline", t.TempDir(), "--disk-baseline-size", "2MiB", "--disk-baseline-chunk", "256KiB", "--disk-sync-every", "512KiB")
	if r.err != nil {
		t.Fatalf("bench all: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	out := r.stdout
	if !strings.Contains(r.stderr, "e2e raw 64B at") {
		t.Fatalf("no progress lines on stderr:\n%s", r.stderr)
	}
	// PHASE CLIENT RECORD RECORDS/S MB/S DISK% LATENCY P50 P99 P99.9 MAX
	rows := map[string][]string{}
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 4 && (f[0] == "produce" || f[0] == "consume" || f[0] == "e2e" || f[0] == "e2e-nofsync") {
			key := f[0] + " " + f[1] + " " + f[2]
			if strings.HasPrefix(f[0], "e2e") {
				key = f[0] + " " + f[2] + " " + f[3]
				f = append([]string{f[0]}, f[2:]...) // "e2e @N/s" spans two cells
			}
			if rows[key] == nil { // e2e runs have an ack row after their end-to-end row
				rows[key] = f
			}
		}
	}
	for _, key := range []string{
		"produce raw 64", "produce kgo 64", "produce raw 200", "produce kgo 200",
		"consume raw 64", "consume kgo 64", "consume raw 200", "consume kgo 200",
		"e2e raw 64", "e2e kgo 64", "e2e-nofsync raw 64", "e2e-nofsync kgo 64",
	} {
		f := rows[key]
		if len(f) < 7 {
			t.Fatalf("no row %q in:\n%s", key, out)
		}
		// f: phase client size "B" records/s MB/s DISK% ...
		if v, err := strconv.ParseFloat(f[4], 64); err != nil || v <= 0 {
			t.Fatalf("row %q records/s = %q:\n%s", key, f[4], out)
		}
		if strings.HasPrefix(key, "produce") && !strings.HasSuffix(f[6], "%") {
			t.Fatalf("row %q has no disk ratio:\n%s", key, out)
		}
		if strings.HasPrefix(key, "e2e") && (len(f) < 11 || f[7] != "end-to-end") {
			t.Fatalf("row %q has no end-to-end latency:\n%s", key, out)
		}
	}
	for _, want := range []string{"disk, sync at end", "disk, sync every 512 KiB", "DISK%: produce MB/s", "e2e-nofsync: topic with flush.messages="} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	if _, err := os.Stat("/proc/loadavg"); err == nil && !strings.Contains(out, "load average (1/5/15 min): ") {
		t.Fatalf("no load average in:\n%s", out)
	}
	// The topics are deleted afterwards.
	if list := c.ok("", "topic", "list"); strings.Contains(list, "-data-") || strings.Contains(list, "-e2e-") {
		t.Fatalf("topics left behind:\n%s", list)
	}
}
