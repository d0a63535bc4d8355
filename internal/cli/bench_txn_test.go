package cli

import (
	"strconv"
	"strings"
	"testing"
)

// TestBenchTxn runs "eddy bench txn" with a record budget: the plain
// idempotent row and one row per --commit-every, with the committed record
// and transaction counts.
func TestBenchTxn(t *testing.T) {
	c := newCluster(t)
	out := c.ok("", "bench", "txn", "--topic", uniqueTopic(t), "--partitions", "2",
		"--records", "200", "--record-size", "32", "--commit-every", "1,50", "--skip-disk-baseline")
	s := reportSection(t, out, "transactional produce")
	for _, row := range []struct {
		name  string
		label int // words in the MODE cell
		txns  string
	}{{"idempotent", 1, "-"}, {"txn every 1", 3, "200"}, {"txn every 50", 3, "4"}} {
		f := txnRow(s, row.name, row.label)
		if len(f) != row.label+8 {
			t.Fatalf("row %q = %v in:\n%s", row.name, f, s)
		}
		f = f[row.label:]
		if f[0] != "200" || f[1] != row.txns {
			t.Fatalf("row %q: records %s, transactions %s; want 200 and %s", row.name, f[0], f[1], row.txns)
		}
		if v, err := strconv.ParseFloat(f[2], 64); err != nil || v <= 0 {
			t.Fatalf("row %q: records/s %q", row.name, f[2])
		}
		if row.txns != "-" && !strings.HasSuffix(f[6], "ms") {
			t.Fatalf("row %q: commit p50 %q", row.name, f[6])
		}
	}
	c.fail("", "bench", "txn", "--skip-disk-baseline", "--records", "1", "--commit-every", "0", "--skip-plain")
}

// txnRow returns the cells of the table row whose first words (the MODE
// cell) are name.
func txnRow(out, name string, words int) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > words && strings.Join(f[:words], " ") == name {
			return f
		}
	}
	return nil
}
