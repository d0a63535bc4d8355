package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// MB is the unit of the MB/s figures: 10^6 bytes, as disk vendors and most
// Kafka benchmarks report them.
const MB = 1e6

// LatencySummary holds the headline figures of a latency distribution.
// Percentiles come from a log-bucket histogram and are accurate to within
// 1%; Min and Max are exact.
type LatencySummary struct {
	Count int64         // number of samples
	Min   time.Duration // smallest sample
	Mean  time.Duration // arithmetic mean
	P50   time.Duration // median
	P90   time.Duration // 90th percentile
	P99   time.Duration // 99th percentile
	P999  time.Duration // 99.9th percentile
	Max   time.Duration // largest sample
}

// Result holds the figures of one produce, consume or end-to-end run.
type Result struct {
	// Mode is "produce", "consume" or "e2e".
	Mode string
	// Client is the client used: "kgo" or "raw".
	Client string
	// RecordSize is the configured value size of produced records (0 for
	// consume runs, which read whatever the topic holds).
	RecordSize int
	// Requests is the number of produce or fetch requests answered (raw
	// client only).
	Requests int64
	// Records is the number of records successfully produced (produce) or
	// consumed (consume, e2e).
	Records int64
	// Errors is the number of records whose produce failed.
	Errors int64
	// FirstError is the first per-record error, if any.
	FirstError error
	// Bytes is the payload (key plus value) volume of Records, except for
	// raw consume runs, which do not decode records: there it is the
	// volume of the record batches received, framing included (about 10
	// bytes per record and 61 per batch more than the payload), and
	// BatchBytes is set.
	Bytes int64
	// BatchBytes reports that Bytes counts whole record batches.
	BatchBytes bool
	// Elapsed is the wall time of the measured phase.
	Elapsed time.Duration
	// RecordsPerSec and MBPerSec are Records and Bytes over Elapsed.
	RecordsPerSec float64
	MBPerSec      float64
	// Ack is the produce-to-acknowledgement latency (produce and e2e runs);
	// nil when not measured. With a target rate it is measured from each
	// record's scheduled send time, so that a stalled client cannot hide
	// queueing delay (coordinated omission). With acks=0 the broker sends
	// no response and this is the time until the request was written.
	Ack *LatencySummary
	// EndToEnd is the produce-to-consume latency (e2e runs), from the send
	// time embedded in each record to its arrival at the consumer; nil when
	// not measured.
	EndToEnd *LatencySummary
	// AckPerRequest reports that Ack holds one sample per produce request
	// rather than per record (raw client without a Rate).
	AckPerRequest bool
	// Rate is the target produce rate of the run in records/s; 0 for
	// closed-loop runs.
	Rate float64
	// Produced is the number of records acknowledged by the producers in an
	// e2e run (Records counts those the consumer received).
	Produced int64
}

// finish computes the rate figures from Records, Bytes and Elapsed.
func (r *Result) finish() {
	if s := r.Elapsed.Seconds(); s > 0 {
		r.RecordsPerSec = float64(r.Records) / s
		r.MBPerSec = float64(r.Bytes) / MB / s
	}
}

// ms renders a duration as fractional milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// Print writes a human-readable report of r to w.
func (r *Result) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MODE\t%s\n", r.Mode)
	if r.Client != "" {
		fmt.Fprintf(tw, "CLIENT\t%s\n", r.Client)
	}
	if r.Rate > 0 {
		fmt.Fprintf(tw, "TARGET RATE\t%.0f records/s\n", r.Rate)
	}
	fmt.Fprintf(tw, "RECORDS\t%d\n", r.Records)
	if r.Mode == "e2e" {
		fmt.Fprintf(tw, "PRODUCED\t%d\n", r.Produced)
	}
	if r.Errors > 0 {
		fmt.Fprintf(tw, "ERRORS\t%d (first: %v)\n", r.Errors, r.FirstError)
	}
	if r.BatchBytes {
		fmt.Fprintf(tw, "BYTES\t%d (record batches, framing included)\n", r.Bytes)
	} else {
		fmt.Fprintf(tw, "BYTES\t%d\n", r.Bytes)
	}
	if r.Requests > 0 {
		fmt.Fprintf(tw, "REQUESTS\t%d\n", r.Requests)
	}
	fmt.Fprintf(tw, "ELAPSED\t%s\n", r.Elapsed.Round(time.Microsecond))
	fmt.Fprintf(tw, "RECORDS/S\t%.0f\n", r.RecordsPerSec)
	fmt.Fprintf(tw, "MB/S\t%.2f\n", r.MBPerSec)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Ack == nil && r.EndToEnd == nil {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LATENCY\tCOUNT\tMIN\tMEAN\tP50\tP90\tP99\tP99.9\tMAX")
	for _, l := range []struct {
		name string
		s    *LatencySummary
	}{{ackLabel(r), r.Ack}, {"end-to-end", r.EndToEnd}} {
		if l.s == nil {
			continue
		}
		s := l.s
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.name, s.Count,
			ms(s.Min), ms(s.Mean), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.Max))
	}
	return tw.Flush()
}

// ackLabel names the ack latency row.
func ackLabel(r *Result) string {
	if r.AckPerRequest {
		return "ack/request"
	}
	return "ack"
}
