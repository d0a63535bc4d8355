package cli

import (
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

func TestBenchProduce(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "produce", "--topic", uniqueTopic(t), "--partitions", "2",
		"--records", "300", "--record-size", "64", "--producers", "2", "--compression", "lz4",
		"--batch-max-bytes", "16KiB", "--linger", "1ms",
		"--disk-baseline", t.TempDir(), "--disk-baseline-size", "2MiB", "--disk-baseline-chunk", "256KiB", "--disk-sync-every", "512KiB")

	// Disk baseline: both runs with a positive speed; 2 MiB / 512 KiB = 4 syncs.
	if !strings.Contains(out, "disk baseline: ") {
		t.Fatalf("no disk baseline in:\n%s", out)
	}
	for key, syncs := range map[string]string{"at": "1", "every": "4"} {
		f := fields(out, key)
		if key == "every" {
			f = f[1:] // "every 512 KiB" spans three cells
		}
		if len(f) < 4 || f[3] != syncs {
			t.Fatalf("disk row %q = %v, want %s syncs:\n%s", key, f, syncs, out)
		}
		if v, err := strconv.ParseFloat(f[2], 64); err != nil || v <= 0 {
			t.Fatalf("disk row %q MB/s = %q", key, f[2])
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
