package eoscheck

import (
	"testing"
)

// cleanHistory is a small correct history: two producers write four
// records to two partitions, one worker copies them in two committed
// transactions, a third transaction aborted after writing one copy.
func cleanHistory() History {
	h := History{Input: "in", Outputs: []string{"out"}}
	in := []Record{
		{0, 0, InputValue("a", 0)}, {0, 1, InputValue("b", 0)}, {0, 2, InputValue("a", 1)},
		{1, 0, InputValue("a", 2)},
	}
	for _, r := range in {
		h.Writes = append(h.Writes, Write(r))
	}
	t1, t2, t3 := TxnID("out", "w", 1), TxnID("out", "w", 2), TxnID("out", "w", 3)
	h.Txns = []Txn{{t1, 2, Committed}, {t2, 1, Aborted}, {t3, 2, Committed}}
	committed := []Record{
		{0, 0, OutputValue(t1, 0, 0, in[0].Value)}, {0, 1, OutputValue(t1, 0, 1, in[1].Value)},
		{0, 4, OutputValue(t3, 0, 2, in[2].Value)}, {1, 2, OutputValue(t3, 1, 0, in[3].Value)},
	}
	uncommitted := append([]Record{}, committed...)
	uncommitted = append(uncommitted, Record{1, 0, OutputValue(t2, 1, 0, in[3].Value)})
	h.Reads = []Read{
		{Topic: "in", Label: "final", Records: in},
		{Topic: "out", Label: "final", Committed: true, Records: committed},
		{Topic: "out", Label: "final", Records: uncommitted},
	}
	return h
}

// TestCheckerClean: a correct history has no anomaly.
func TestCheckerClean(t *testing.T) {
	r := Check(cleanHistory())
	if r.Anomalies() != 0 {
		t.Fatalf("anomalies in a clean history: %v\n%v", r, r.Examples)
	}
	if r.Acked != 4 || r.Input != 4 || r.Output["out"] != 4 {
		t.Fatalf("counts: %v", r)
	}
}

// TestCheckerFindsAnomalies breaks the clean history in one way at a time
// and checks the checker counts exactly that anomaly.
func TestCheckerFindsAnomalies(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(h *History)
		count  func(r *Report) int
	}{
		{"lost write", func(h *History) {
			h.Writes = append(h.Writes, Write{1, 1, InputValue("b", 1)})
		}, func(r *Report) int { return r.Lost }},
		{"moved write", func(h *History) { h.Writes[3].Offset = 7 }, func(r *Report) int { return r.MovedWrites }},
		{"duplicate input", func(h *History) {
			h.Reads[0].Records = append(h.Reads[0].Records, Record{1, 1, InputValue("a", 2)})
		}, func(r *Report) int { return r.Duplicates }},
		{"input out of order", func(h *History) {
			h.Reads[0].Records[0].Value, h.Reads[0].Records[2].Value = h.Reads[0].Records[2].Value, h.Reads[0].Records[0].Value
			h.Writes[0].Value, h.Writes[2].Value = h.Writes[2].Value, h.Writes[0].Value
			h.Reads[1].Records[0].Value = OutputValue(TxnID("out", "w", 1), 0, 0, h.Reads[0].Records[0].Value)
			h.Reads[1].Records[2].Value = OutputValue(TxnID("out", "w", 3), 0, 2, h.Reads[0].Records[2].Value)
			h.Reads = h.Reads[:2]
		}, func(r *Report) int { return r.OutOfOrder }},
		{"output out of order", func(h *History) {
			recs := h.Reads[1].Records
			recs[1].Value, recs[2].Value = recs[2].Value, recs[1].Value
			h.Reads = h.Reads[:2]
		}, func(r *Report) int { return r.OutOfOrder }},
		{"divergent offset", func(h *History) {
			h.Reads = append(h.Reads, Read{Topic: "out", Label: "again", Records: []Record{{0, 4, "other"}}})
		}, func(r *Report) int { return r.DivergentOffsets }},
		{"aborted read", func(h *History) {
			h.Reads[1].Records = append(h.Reads[1].Records, Record{1, 3, OutputValue(TxnID("out", "w", 2), 1, 0, InputValue("a", 2))})
			h.Reads = h.Reads[:2]
		}, func(r *Report) int { return r.AbortedReads }},
		{"lost committed", func(h *History) {
			h.Txns[2].Records = 3
		}, func(r *Report) int { return r.LostCommitted }},
		{"torn", func(h *History) {
			h.Txns[2].Outcome, h.Txns[2].Records = Unknown, 3
		}, func(r *Report) int { return r.Torn }},
		{"missing output", func(h *History) {
			h.Reads[1].Records = h.Reads[1].Records[:3]
			h.Txns[2].Outcome = Unknown
		}, func(r *Report) int { return r.MissingOutput }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := cleanHistory()
			c.break_(&h)
			r := Check(h)
			if got := c.count(r); got != 1 {
				t.Fatalf("count %d, want 1: %v\n%v", got, r, r.Examples)
			}
			if r.Anomalies() < 1 {
				t.Fatalf("no anomaly: %v", r)
			}
		})
	}
}
