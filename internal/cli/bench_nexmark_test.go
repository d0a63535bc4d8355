package cli

import (
	"strings"
	"testing"
)

func TestBenchNexmark(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "nexmark", "--engine", "kgo", "--query", "q0,q2", "--events", "5000", "--rate", "1000", "--compression", "lz4")
	if !strings.Contains(out, "compression lz4") {
		t.Fatalf("the run does not say it compressed with lz4:\n%s", out)
	}
	for _, q := range []string{"q0", "q2"} {
		f := fields(out, q)
		// query engine events events/s events/s/core vs-Flink verified
		if len(f) != 7 || f[1] != "kgo" || f[2] != "5000" || f[6] != "yes" {
			t.Fatalf("%s summary row %v in:\n%s", q, f, out)
		}
	}
	if r := c.run("", "bench", "nexmark", "--query", "q0", "--compression", "xz"); r.err == nil || !strings.Contains(r.err.Error(), "invalid compression") {
		t.Fatalf("--compression xz: %v", r.err)
	}
	if r := c.run("", "bench", "nexmark", "--query", "q6"); r.err == nil || !strings.Contains(r.err.Error(), "unknown query") {
		t.Fatalf("q6: %v", r.err)
	}
}
