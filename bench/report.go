package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// ReportConfig parameterises RunReport. Zero values select the defaults.
type ReportConfig struct {
	// Config is the base of every phase: brokers, topic name prefix,
	// partitions, acks, producers, in-flight requests, batch size,
	// compression, logger, ... Records, Duration, Rate, RecordSize and
	// Client are set per phase.
	Config
	// PhaseDuration bounds each produce, consume and end-to-end phase.
	// Default 5s.
	PhaseDuration time.Duration
	// RecordSizes are the value sizes of the produce and consume phases.
	// Default 100 and 1024 bytes.
	RecordSizes []int
	// Clients are the clients each phase runs with, in order. Default
	// raw, then kgo.
	Clients []string
	// E2ERecordSize is the value size of the end-to-end phases; default
	// the first of RecordSizes.
	E2ERecordSize int
	// E2ELoad is the fraction of the client's measured peak produce rate
	// (for E2ERecordSize) at which the end-to-end phases run. Default 0.5.
	E2ELoad float64
	// E2ELinger is the producer linger of the end-to-end phases. Default
	// 1ms.
	E2ELinger time.Duration
	// E2ENoFsync adds, for each client, an end-to-end phase at the same
	// rate into a topic created with flush.messages at its maximum, which
	// on Eddy acknowledges and shows records once written to the OS rather
	// than once fsynced (other brokers may ignore the setting).
	E2ENoFsync bool
	// Disk configures the disk baseline; SkipDisk leaves it out.
	Disk     DiskConfig
	SkipDisk bool
	// KeepTopics keeps the topics the report creates (named after
	// Config.Topic, the run's start time and the phase); by default they
	// are deleted at the end.
	KeepTopics bool
	// Progress, if set, receives a line as each phase starts.
	Progress io.Writer
}

// ReportRow is the outcome of one phase of a report.
type ReportRow struct {
	Phase      string // "produce", "consume" or "e2e"
	Client     string
	RecordSize int     // value size of the records produced (or read)
	Result     *Result // nil if the phase could not run
	Err        error   // the phase's error, if any
	// NoFsync marks an end-to-end phase run on a topic with fsync relaxed
	// (see ReportConfig.E2ENoFsync).
	NoFsync bool
	// DiskRatio is produce MB/s over the disk's sequential write MB/s
	// (DiskResult.ReferenceMBPerSec); 0 when not applicable.
	DiskRatio float64
}

// Report is the outcome of RunReport.
type Report struct {
	Disk    *DiskResult // nil if skipped or failed
	DiskErr error
	Rows    []ReportRow
	// PhaseDuration is the configured bound of each phase.
	PhaseDuration time.Duration
	// LoadStart and LoadEnd are the machine's load averages (1, 5 and 15
	// minutes, from /proc/loadavg) when the report started and ended;
	// empty where unavailable. Figures taken on a busy machine say less.
	LoadStart, LoadEnd string
}

// RunReport measures, in one run against cfg.Brokers: the disk baseline;
// produce throughput with each client for each record size (acks as
// configured, "all" by default); consume throughput of the records just
// produced, with each client; and end-to-end latency at E2ELoad of each
// client's peak produce rate. Every phase uses fresh topics. A failing
// phase is recorded in its row and the report carries on; the error
// returned is the first phase error, or ctx's.
func RunReport(ctx context.Context, rc ReportConfig) (*Report, error) {
	if rc.PhaseDuration <= 0 {
		rc.PhaseDuration = 5 * time.Second
	}
	if len(rc.RecordSizes) == 0 {
		rc.RecordSizes = []int{100, 1024}
	}
	if len(rc.Clients) == 0 {
		rc.Clients = []string{ClientRaw, ClientKgo}
	}
	if rc.E2ERecordSize <= 0 {
		rc.E2ERecordSize = rc.RecordSizes[0]
	}
	if rc.E2ELoad <= 0 {
		rc.E2ELoad = 0.5
	}
	if rc.E2ELinger <= 0 {
		rc.E2ELinger = time.Millisecond
	}
	base := rc.Config.withDefaults()
	if len(base.Brokers) == 0 {
		return nil, errors.New("bench: no brokers")
	}
	for _, c := range rc.Clients {
		if err := (Config{Client: c}).validateClient(); err != nil {
			return nil, err
		}
	}
	progress := func(format string, args ...any) {
		if rc.Progress != nil {
			fmt.Fprintf(rc.Progress, format+"\n", args...)
		}
	}

	rep := &Report{PhaseDuration: rc.PhaseDuration, LoadStart: loadAverage()}
	defer func() { rep.LoadEnd = loadAverage() }()
	var firstErr error
	add := func(row ReportRow) {
		if row.Err == nil && row.Result != nil && row.Result.Errors > 0 {
			row.Err = fmt.Errorf("%d records failed: %w", row.Result.Errors, row.Result.FirstError)
		}
		if row.Err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s %s %dB: %w", row.Phase, row.Client, row.RecordSize, row.Err)
		}
		rep.Rows = append(rep.Rows, row)
	}

	if !rc.SkipDisk {
		progress("disk baseline ...")
		rep.Disk, rep.DiskErr = DiskBaseline(ctx, rc.Disk)
		if rep.DiskErr != nil && firstErr == nil {
			firstErr = fmt.Errorf("disk baseline: %w", rep.DiskErr)
		}
	}

	stamp := time.Now().Format("20060102-150405")
	var topics []string
	topicFor := func(kind string, size int) string {
		t := fmt.Sprintf("%s-%s-%s-%dB", base.Topic, stamp, kind, size)
		topics = append(topics, t)
		return t
	}
	peak := make(map[string]float64) // client -> records/s at E2ERecordSize

	sizeTopics := make(map[int]string)
	for _, size := range rc.RecordSizes {
		topic := topicFor("data", size)
		sizeTopics[size] = topic
		for _, client := range rc.Clients {
			if ctx.Err() != nil {
				break
			}
			cfg := base
			cfg.Topic, cfg.Client, cfg.RecordSize = topic, client, size
			cfg.Duration, cfg.Records, cfg.Rate = rc.PhaseDuration, 0, 0
			progress("produce %s %dB for %s ...", client, size, rc.PhaseDuration)
			res, err := Produce(ctx, cfg)
			row := ReportRow{Phase: "produce", Client: client, RecordSize: size, Result: res, Err: err}
			if disk := rep.Disk.ReferenceMBPerSec(); res != nil && disk > 0 {
				row.DiskRatio = res.MBPerSec / disk
			}
			if err == nil && res != nil && size == rc.E2ERecordSize {
				peak[client] = res.RecordsPerSec
			}
			add(row)
		}
	}
	for _, size := range rc.RecordSizes {
		for _, client := range rc.Clients {
			if ctx.Err() != nil {
				break
			}
			cfg := base
			cfg.Topic, cfg.Client, cfg.RecordSize = sizeTopics[size], client, size
			cfg.Duration, cfg.Records, cfg.Rate = rc.PhaseDuration, 0, 0
			progress("consume %s %dB for up to %s ...", client, size, rc.PhaseDuration)
			res, err := Consume(ctx, cfg)
			if res != nil {
				res.RecordSize = size
			}
			add(ReportRow{Phase: "consume", Client: client, RecordSize: size, Result: res, Err: err})
		}
	}
	for _, client := range rc.Clients {
		if ctx.Err() != nil {
			break
		}
		size := rc.E2ERecordSize
		if peak[client] <= 0 {
			add(ReportRow{Phase: "e2e", Client: client, RecordSize: size,
				Err: fmt.Errorf("no %s produce peak for %dB records to derive the rate from", client, size)})
			continue
		}
		for _, noFsync := range []bool{false, true} {
			if noFsync && !rc.E2ENoFsync || ctx.Err() != nil {
				continue
			}
			cfg := base
			kind, durability := "e2e-"+client, "fsync per group commit"
			if noFsync {
				kind, durability = "e2e-nofsync-"+client, "no fsync (flush.messages="+relaxedFlushMessages+")"
				cfg.TopicConfigs = map[string]*string{"flush.messages": kadm.StringPtr(relaxedFlushMessages)}
			}
			cfg.Topic, cfg.Client, cfg.RecordSize = topicFor(kind, size), client, size
			cfg.Duration, cfg.Records = rc.PhaseDuration, 0
			cfg.Rate = rc.E2ELoad * peak[client]
			cfg.Linger = rc.E2ELinger
			progress("e2e %s %dB at %.0f records/s (%.0f%% of its peak), %s, for %s ...", client, size, cfg.Rate, rc.E2ELoad*100, durability, rc.PhaseDuration)
			res, err := EndToEnd(ctx, cfg)
			add(ReportRow{Phase: "e2e", Client: client, RecordSize: size, Result: res, Err: err, NoFsync: noFsync})
		}
	}

	if !rc.KeepTopics && len(topics) > 0 {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := deleteTopics(dctx, base, topics); err != nil {
			base.Logger.Warn("deleting the report's topics", "err", err)
		}
		cancel()
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return rep, firstErr
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" where
// /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// relaxedFlushMessages is the flush.messages of the no-fsync end-to-end
// phases: never fsync per batch.
const relaxedFlushMessages = "9223372036854775807"

// deleteTopics deletes topics, ignoring those that do not exist.
func deleteTopics(ctx context.Context, cfg Config, topics []string) error {
	cl, err := cfg.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).DeleteTopics(ctx, topics...)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "UNKNOWN_TOPIC") {
			errs = append(errs, fmt.Errorf("%s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// Print writes the report as one table, with notes on the units.
func (r *Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tCLIENT\tRECORD\tRECORDS/S\tMB/S\tDISK%\tLATENCY\tP50\tP99\tP99.9\tMAX\t")
	if d := r.Disk; d != nil {
		for _, run := range d.runs() {
			label := "disk, " + run.label()
			s := run.SyncLatency
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%.1f\t-\tfdatasync\t%s\t%s\t%s\t%s\t\n", label, run.MBPerSec,
				ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max))
		}
	}
	var notes []string
	for _, row := range r.Rows {
		phase := row.Phase
		res := row.Result
		if row.NoFsync {
			phase = "e2e-nofsync"
		}
		if res != nil && res.Rate > 0 {
			phase = fmt.Sprintf("%s @%.0f/s", phase, res.Rate)
		}
		if res == nil {
			fmt.Fprintf(tw, "%s\t%s\t%d B\t-\t-\t-\t-\t-\t-\t-\t-\t\n", phase, row.Client, row.RecordSize)
		} else {
			mbs := fmt.Sprintf("%.1f", res.MBPerSec)
			if res.BatchBytes {
				mbs += "*"
			}
			ratio := "-"
			if row.DiskRatio > 0 {
				ratio = fmt.Sprintf("%.0f%%", row.DiskRatio*100)
			}
			lat, label := res.Ack, ackLabel(res)
			if res.EndToEnd != nil {
				lat, label = res.EndToEnd, "end-to-end"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d B\t%.0f\t%s\t%s\t%s\n", phase, row.Client, row.RecordSize,
				res.RecordsPerSec, mbs, ratio, latencyCells(label, lat))
			if res.EndToEnd != nil && res.Ack != nil {
				// The producer's view of the same run, below its end-to-end row.
				fmt.Fprintf(tw, "%s\t%s\t%d B\t-\t-\t-\t%s\n", phase, row.Client, row.RecordSize,
					latencyCells(ackLabel(res), res.Ack))
			}
		}
		if row.Err != nil {
			notes = append(notes, fmt.Sprintf("%s %s %d B: %v", row.Phase, row.Client, row.RecordSize, row.Err))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Disk != nil {
		fs := ""
		if r.Disk.FSType != "" {
			fs = fmt.Sprintf(" (filesystem %s: not a disk figure)", r.Disk.FSType)
		}
		fmt.Fprintf(w, "disk: %s written in %s writes under %s%s (the sustained run: as long as a phase)\n", humanBytes(r.Disk.TotalBytes), humanBytes(int64(r.Disk.ChunkBytes)), r.Disk.Dir, fs)
	} else if r.DiskErr != nil {
		fmt.Fprintf(w, "disk baseline failed: %v\n", r.DiskErr)
	}
	fmt.Fprintf(w, "each phase ran for up to %s; MB/s is 10^6 bytes of record values per second\n", r.PhaseDuration)
	if r.LoadStart != "" {
		fmt.Fprintf(w, "load average (1/5/15 min): %s at the start, %s at the end\n", r.LoadStart, r.LoadEnd)
	}
	if r.Disk != nil && r.Disk.Sustained != nil {
		fmt.Fprintln(w, "DISK%: produce MB/s over the sustained disk row's (short runs measure bursts that caches absorb)")
	} else {
		fmt.Fprintln(w, "DISK%: produce MB/s over the disk's sequential write speed (the better disk row)")
	}
	fmt.Fprintln(w, "*: raw consume counts whole record batches (headers and record framing included)")
	fmt.Fprintln(w, "ack/request: raw producer, one sample per produce request; ack: kgo, one per record")
	fmt.Fprintln(w, "end-to-end: from each record's scheduled send time to its arrival at the consumer;")
	fmt.Fprintln(w, "  the row below it is the same run's ack latency, per record from its scheduled send time")
	for _, row := range r.Rows {
		if row.NoFsync {
			fmt.Fprintln(w, "e2e-nofsync: topic with flush.messages="+relaxedFlushMessages+" (Eddy acknowledges once written to the OS,")
			fmt.Fprintln(w, "  without fsync); the other e2e rows use the broker's default durability")
			break
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "error: %s\n", n)
	}
	return nil
}

// latencyCells renders the latency columns of a report row.
func latencyCells(label string, s *LatencySummary) string {
	if s == nil {
		return "-\t-\t-\t-\t-\t"
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t", label, ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max))
}
