// Package eoscheck checks a history of an exactly-once workload, in the
// spirit of Jepsen's Kafka workloads: idempotent input producers record
// every acknowledged write with its offset; transactional
// consume-transform-produce workers copy the input topic to output topics
// and record how each of their transactions ended; afterwards the topics
// are read back (read_committed and read_uncommitted, several times, across
// restarts). Check compares what was acknowledged, what the workers saw
// and what was read, and counts every anomaly.
//
// The campaign that produces histories against the real eddy binary, with
// SIGKILL and SIGSTOP faults, is this package's test (eoscheck_test.go);
// EDDY_EOS_CYCLES sets how many fault cycles it runs.
package eoscheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Write is a write of an input producer that the broker acknowledged.
type Write struct {
	Partition int32
	Offset    int64
	Value     string // InputValue(producer, seq)
}

// Outcome is how a transaction ended, as its worker saw it.
type Outcome int

const (
	// Unknown: the worker did not learn the outcome (its commit failed in
	// a way that leaves it undecided, or it was killed).
	Unknown Outcome = iota
	Committed
	Aborted
)

func (o Outcome) String() string {
	return [...]string{"unknown", "committed", "aborted"}[o]
}

// Txn is one transaction of a worker: its id (unique over the whole
// history), how many records it produced, and how it ended.
type Txn struct {
	ID      string
	Records int
	Outcome Outcome
}

// Record is a record read back from a topic.
type Record struct {
	Partition int32
	Offset    int64
	Value     string
}

// Read is one pass over a whole topic from its start, with a label for
// reports ("final", "after restart", ...).
type Read struct {
	Topic     string
	Label     string
	Committed bool // read_committed; otherwise read_uncommitted
	Records   []Record
}

// History is everything a campaign recorded.
type History struct {
	Input   string   // the input topic
	Outputs []string // the output topics: each must hold every input record once
	Writes  []Write
	Txns    []Txn // a transaction listed twice: the later entry is its outcome
	// Reads in the order they were made. The last read of the input and
	// the last read_committed read of each output are the final state.
	Reads []Read
}

// Report counts the anomalies Check found. A correct broker gives zero
// for every count.
type Report struct {
	Acked        int            // acknowledged input writes
	Input        int            // records in the final input read
	Output       map[string]int // records in each final read_committed output read
	Transactions map[Outcome]int

	Lost             int // acknowledged input writes not in the input
	MovedWrites      int // acknowledged writes found, but not at their acknowledged offset
	Duplicates       int // input values stored more than once
	OutOfOrder       int // a producer's records (input) or an input partition's copies (output) out of order
	DivergentOffsets int // an offset read with two different values (across reads, restarts, isolation levels, or against the input)
	AbortedReads     int // read_committed records of transactions their worker saw abort
	LostCommitted    int // records of transactions their worker saw commit, missing under read_committed
	Torn             int // transactions of unknown outcome partly visible under read_committed
	MissingOutput    int // input records absent from an output
	DuplicateOutput  int // extra copies of input records in an output
	Malformed        int // records that are not what the workload writes

	Examples []string // the first few anomalies, for the log
}

// Anomalies is the sum of every anomaly count.
func (r *Report) Anomalies() int {
	return r.Lost + r.MovedWrites + r.Duplicates + r.OutOfOrder + r.DivergentOffsets + r.AbortedReads +
		r.LostCommitted + r.Torn + r.MissingOutput + r.DuplicateOutput + r.Malformed
}

func (r *Report) String() string {
	outs := make([]string, 0, len(r.Output))
	for t, n := range r.Output {
		outs = append(outs, fmt.Sprintf("%s=%d", t, n))
	}
	sort.Strings(outs)
	return fmt.Sprintf("acked=%d input=%d output[%s] txns(committed=%d aborted=%d unknown=%d) | "+
		"lost=%d moved=%d duplicates=%d out_of_order=%d divergent_offsets=%d aborted_reads=%d "+
		"lost_committed=%d torn=%d missing_output=%d duplicate_output=%d malformed=%d",
		r.Acked, r.Input, strings.Join(outs, " "), r.Transactions[Committed], r.Transactions[Aborted], r.Transactions[Unknown],
		r.Lost, r.MovedWrites, r.Duplicates, r.OutOfOrder, r.DivergentOffsets, r.AbortedReads,
		r.LostCommitted, r.Torn, r.MissingOutput, r.DuplicateOutput, r.Malformed)
}

func (r *Report) note(format string, args ...any) {
	if len(r.Examples) < 20 {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// InputValue is the value input producer p writes as its seq-th record.
func InputValue(producer string, seq int) string { return producer + "-" + strconv.Itoa(seq) }

func parseInput(v string) (producer string, seq int, ok bool) {
	i := strings.LastIndexByte(v, '-')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(v[i+1:])
	return v[:i], seq, err == nil
}

// OutputValue is the value a worker writes in transaction txn for the
// input record at partition/offset with value in. The output record goes
// to the same partition number as its input record.
func OutputValue(txn string, partition int32, offset int64, in string) string {
	return fmt.Sprintf("%s|%d|%d|%s", txn, partition, offset, in)
}

type copied struct {
	txn       string
	partition int32
	offset    int64
	in        string
}

func parseOutput(v string) (copied, bool) {
	f := strings.SplitN(v, "|", 4)
	if len(f) != 4 {
		return copied{}, false
	}
	p, err1 := strconv.ParseInt(f[1], 10, 32)
	o, err2 := strconv.ParseInt(f[2], 10, 64)
	return copied{f[0], int32(p), o, f[3]}, err1 == nil && err2 == nil
}

type at struct {
	topic     string
	partition int32
	offset    int64
}

// Check evaluates a history.
func Check(h History) *Report {
	r := &Report{Output: map[string]int{}, Transactions: map[Outcome]int{}}
	r.Acked = len(h.Writes)
	txns := map[string]Txn{} // the last entry of a transaction wins
	for _, t := range h.Txns {
		txns[t.ID] = t
	}
	for _, t := range txns {
		r.Transactions[t.Outcome]++
	}

	// Every offset holds one value across all reads.
	seen := map[at]string{}
	divergent := map[at]bool{}
	for _, rd := range h.Reads {
		for _, rec := range rd.Records {
			k := at{rd.Topic, rec.Partition, rec.Offset}
			if v, ok := seen[k]; ok && v != rec.Value && !divergent[k] {
				divergent[k] = true
				r.DivergentOffsets++
				r.note("%s/%d@%d read as %q and, in read %q, as %q", k.topic, k.partition, k.offset, v, rd.Label, rec.Value)
			}
			seen[k] = rec.Value
		}
	}

	// The final reads.
	var input *Read
	outputs := map[string]*Read{}
	for i := range h.Reads {
		rd := &h.Reads[i]
		switch {
		case rd.Topic == h.Input:
			input = rd
		case rd.Committed:
			outputs[rd.Topic] = rd
		}
	}
	if input == nil {
		r.Malformed++
		r.note("no read of the input topic %s", h.Input)
		return r
	}
	r.Input = len(input.Records)

	// Input: acknowledged writes present at their offsets, each value
	// once, each producer's records in order in every partition.
	type pos struct {
		partition int32
		offset    int64
	}
	byPos := map[pos]string{}
	byValue := map[string]int{}
	lastSeq := map[string]int{} // producer/partition -> last sequence seen
	for _, rec := range input.Records {
		byPos[pos{rec.Partition, rec.Offset}] = rec.Value
		byValue[rec.Value]++
		if byValue[rec.Value] == 2 {
			r.Duplicates++
			r.note("input value %q stored twice", rec.Value)
		}
		prod, seq, ok := parseInput(rec.Value)
		if !ok {
			r.Malformed++
			r.note("input %d@%d holds %q", rec.Partition, rec.Offset, rec.Value)
			continue
		}
		k := fmt.Sprintf("%s/%d", prod, rec.Partition)
		if last, ok := lastSeq[k]; ok && seq <= last {
			r.OutOfOrder++
			r.note("input partition %d: %s after %s", rec.Partition, rec.Value, InputValue(prod, last))
		}
		lastSeq[k] = seq
	}
	for _, w := range h.Writes {
		v, ok := byPos[pos{w.Partition, w.Offset}]
		switch {
		case ok && v == w.Value:
		case byValue[w.Value] > 0:
			r.MovedWrites++
			r.note("acknowledged %q at %d@%d, found elsewhere (offset holds %q)", w.Value, w.Partition, w.Offset, v)
		default:
			r.Lost++
			r.note("acknowledged %q at %d@%d is lost", w.Value, w.Partition, w.Offset)
		}
	}

	// Outputs.
	for _, topic := range h.Outputs {
		out := outputs[topic]
		if out == nil {
			r.Malformed++
			r.note("no read_committed read of output %s", topic)
			continue
		}
		r.Output[topic] = len(out.Records)
		copies := map[pos]int{}
		visible := map[string]int{} // txn id -> records visible
		lastIn := map[int32]int64{}
		for _, rec := range out.Records {
			c, ok := parseOutput(rec.Value)
			if !ok || c.partition != rec.Partition {
				r.Malformed++
				r.note("%s %d@%d holds %q", topic, rec.Partition, rec.Offset, rec.Value)
				continue
			}
			visible[c.txn]++
			if t, ok := txns[c.txn]; ok && t.Outcome == Aborted {
				r.AbortedReads++
				r.note("%s %d@%d: record of aborted transaction %s read committed", topic, rec.Partition, rec.Offset, c.txn)
			}
			in := pos{c.partition, c.offset}
			copies[in]++
			if copies[in] > 1 {
				r.DuplicateOutput++
				r.note("%s: input %d@%d copied again at %d (transaction %s)", topic, c.partition, c.offset, rec.Offset, c.txn)
			}
			if v, ok := byPos[in]; !ok || v != c.in {
				r.DivergentOffsets++
				r.note("%s %d@%d copies %q from input %d@%d, which holds %q", topic, rec.Partition, rec.Offset, c.in, c.partition, c.offset, v)
			}
			if last, ok := lastIn[rec.Partition]; ok && c.offset < last {
				r.OutOfOrder++
				r.note("%s partition %d: copy of input offset %d after %d", topic, rec.Partition, c.offset, last)
			}
			lastIn[rec.Partition] = c.offset
		}
		for p := range byPos {
			if copies[p] == 0 {
				r.MissingOutput++
				r.note("%s: input %d@%d (%q) never copied", topic, p.partition, p.offset, byPos[p])
			}
		}
		for id, t := range txns {
			if !strings.HasPrefix(id, topic+":") {
				continue
			}
			v := visible[id]
			switch {
			case t.Outcome == Committed && v != t.Records:
				r.LostCommitted += t.Records - v
				r.note("%s: committed transaction %s shows %d of its %d records", topic, id, v, t.Records)
			case t.Outcome == Unknown && v != 0 && v != t.Records:
				r.Torn++
				r.note("%s: transaction %s of unknown outcome shows %d of its %d records", topic, id, v, t.Records)
			}
		}
	}
	return r
}

// TxnID names a worker's transaction: the output topic it writes, the
// worker and a counter. Check relates a transaction to an output topic
// by this prefix.
func TxnID(output, worker string, n int) string {
	return fmt.Sprintf("%s:%s:%d", output, worker, n)
}
