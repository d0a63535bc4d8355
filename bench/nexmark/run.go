package nexmark

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/bench"
)

// Engines that can run a query: "stream" runs the query's topology written
// with Eddy's stream DSL; "kgo" runs a hand-written consume-transform-produce
// loop over franz-go (q0, q1 and q2 only), as a floor for what the client and
// broker cost without any library in between.
const (
	EngineStream = "stream"
	EngineKgo    = "kgo"
)

// Where the stream engine keeps state.
const (
	StatePebble = "pebble"
	StateMemory = "memory"
)

// RunConfig parameterises Run.
type RunConfig struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Query is one of Queries. Required.
	Query string
	// Engine is EngineStream (default) or EngineKgo.
	Engine string
	// Generator configures the events; Events is required.
	Generator Config
	// Queries holds the query parameters.
	Queries QueryConfig
	// Partitions of the events topic when Run creates it [1].
	Partitions int32
	// State is where the stream engine keeps its stores: StatePebble
	// (default; on disk, as Flink's RocksDB state backend) or StateMemory.
	State string
	// Verify checks the output against the reference implementation.
	Verify bool
	// KeepRows is how many rows of each side are kept to name differences
	// when verification fails [1000].
	KeepRows int
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Progress, if set, receives one line per phase.
	Progress io.Writer
	// Compression is the codec of every record batch Run writes: the
	// events and the query's output ("none" by default, as Kafka's
	// producers: on loopback compressing costs CPU and saves nothing;
	// "gzip", "snappy", "lz4" or "zstd"). The events topic's name
	// carries it, so each codec has its own.
	Compression string
	// ClientOpts are added to every client Run creates (after the
	// compression option, so they can override it).
	ClientOpts []kgo.Opt
	// CPUProfile, if set, receives a CPU profile of the query run.
	CPUProfile io.Writer
}

// RunResult holds a run's figures.
type RunResult struct {
	Query, Engine, State string
	Compression          string // of the events and the output
	Events               int64
	// Loaded is false when the events topic already held the events.
	Loaded      bool
	LoadBytes   int64
	LoadElapsed time.Duration
	// Elapsed is the wall time of the query run, from starting the
	// topology until every input event was processed and its output
	// acknowledged. CPU is the process's CPU time over the same span:
	// with an embedded broker it includes the broker's work.
	Elapsed time.Duration
	CPU     time.Duration
	// OutputRows counts the rows read back from the output topic (for
	// changelog outputs, in the final value of each key).
	OutputRows int64
	// Verified is true when the output matched the reference; VerifyErr
	// says how it did not.
	Verified  bool
	VerifyErr error
}

// EventsPerSec is the wall-clock rate of the query run.
func (r *RunResult) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// EventsPerCoreSec is the rate per CPU-second, or 0 if CPU time is unknown.
func (r *RunResult) EventsPerCoreSec() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Events) / r.CPU.Seconds()
}

// Print writes the figures.
func (r *RunResult) Print(w io.Writer) error {
	state := ""
	if r.Engine == EngineStream {
		state = ", state in " + r.State
	}
	_, err := fmt.Fprintf(w, "query %s (engine %s%s, compression %s), %d events\n", r.Query, r.Engine, state, r.Compression, r.Events)
	if err != nil {
		return err
	}
	if r.Loaded {
		fmt.Fprintf(w, "  load:    %8.2fs  %10.0f events/s  %7.1f MB/s\n", r.LoadElapsed.Seconds(),
			float64(r.Events)/r.LoadElapsed.Seconds(), float64(r.LoadBytes)/1e6/r.LoadElapsed.Seconds())
	}
	fmt.Fprintf(w, "  run:     %8.2fs  %10.0f events/s wall, CPU %.2fs (%.2f cores busy)\n", r.Elapsed.Seconds(),
		r.EventsPerSec(), r.CPU.Seconds(), r.CPU.Seconds()/r.Elapsed.Seconds())
	if pc := r.EventsPerCoreSec(); pc > 0 {
		fmt.Fprintf(w, "  per core:           %10.0f events/s per CPU-second\n", pc)
	}
	fmt.Fprintf(w, "  output:  %d rows\n", r.OutputRows)
	switch {
	case r.Verified:
		fmt.Fprintf(w, "  verified: output equals the reference implementation's\n")
	case r.VerifyErr != nil:
		fmt.Fprintf(w, "  VERIFICATION FAILED: %v\n", r.VerifyErr)
	}
	return nil
}

// runCtx is what an engine gets.
type runCtx struct {
	cfg    RunConfig
	qc     QueryConfig
	opts   []kgo.Opt // seed brokers and the caller's options
	in     string
	out    string
	appID  string
	events int64
	ends   map[int32]int64 // end offset of each events partition
}

type engineFunc func(ctx context.Context, rc *runCtx) error

// engines maps engine name to query name to implementation.
var engines = map[string]map[string]engineFunc{
	EngineKgo: {"q0": runKgo, "q1": runKgo, "q2": runKgo},
}

// Run loads the events of cfg.Generator into a topic (unless a topic with
// the same events is already there), runs the query over them into a fresh
// output topic, measures the run's wall and CPU time, and checks the output
// against the reference implementation if cfg.Verify.
func Run(ctx context.Context, cfg RunConfig) (*RunResult, error) {
	if cfg.Engine == "" {
		cfg.Engine = EngineStream
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	switch cfg.State {
	case "":
		cfg.State = StatePebble
	case StatePebble, StateMemory:
	default:
		return nil, fmt.Errorf("nexmark: state %q: want %s or %s", cfg.State, StatePebble, StateMemory)
	}
	if cfg.KeepRows == 0 {
		cfg.KeepRows = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("nexmark: no brokers")
	}
	if cfg.Compression == "" {
		cfg.Compression = "none"
	}
	codec, err := bench.CompressionCodec(cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("nexmark: %w", err)
	}
	cfg.ClientOpts = append([]kgo.Opt{kgo.ProducerBatchCompression(codec)}, cfg.ClientOpts...)
	if !slices.Contains(Queries, cfg.Query) {
		return nil, fmt.Errorf("nexmark: unknown query %q (known: %v)", cfg.Query, Queries)
	}
	engine := engines[cfg.Engine][cfg.Query]
	if engine == nil {
		return nil, fmt.Errorf("nexmark: engine %q cannot run %s", cfg.Engine, cfg.Query)
	}
	gen, err := NewGenerator(cfg.Generator)
	if err != nil {
		return nil, err
	}
	gc := gen.Config()
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}

	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(64*loadChunk))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	suffix := fmt.Sprintf("%d-%x", time.Now().UnixNano(), runtime.NumGoroutine())
	rc := &runCtx{
		cfg: cfg, qc: cfg.Queries.withDefaults(), opts: opts, events: gc.Events,
		// Events are reused across runs with the same generator
		// parameters (all of them are in the name or defaulted).
		in: fmt.Sprintf("nexmark-events-%d-%d-%d-p%d-%s", gc.Events, gc.BaseTime, int64(gc.EventsPerSecond),
			cfg.Partitions, strings.ToLower(cfg.Compression)),
		out:   fmt.Sprintf("nexmark-%s-%s-out-%s", cfg.Query, cfg.Engine, suffix),
		appID: fmt.Sprintf("nexmark-%s-%s", cfg.Query, suffix),
	}
	res := &RunResult{Query: cfg.Query, Engine: cfg.Engine, State: cfg.State, Compression: cfg.Compression, Events: gc.Events}

	// Load the events unless they are there already.
	ends, err := adm.ListEndOffsets(ctx, rc.in)
	if err == nil && ends.Error() == nil {
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total != gc.Events {
			return nil, fmt.Errorf("nexmark: topic %s holds %d records, not the %d events expected: delete it", rc.in, total, gc.Events)
		}
		progress("events: reusing %d events in %s", total, rc.in)
	} else {
		if _, err := adm.CreateTopic(ctx, cfg.Partitions, -1, nil, rc.in); err != nil {
			return nil, fmt.Errorf("nexmark: creating %s: %w", rc.in, err)
		}
		progress("events: loading %d events into %s", gc.Events, rc.in)
		lr, err := Load(ctx, cl, rc.in, gen)
		if err != nil {
			return nil, err
		}
		res.Loaded, res.LoadBytes, res.LoadElapsed = true, lr.Bytes, lr.Elapsed
		if ends, err = adm.ListEndOffsets(ctx, rc.in); err == nil {
			err = ends.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("nexmark: end offsets of %s: %w", rc.in, err)
		}
	}
	rc.ends = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { rc.ends[o.Partition] = o.Offset })

	if _, err := adm.CreateTopic(ctx, 1, -1, nil, rc.out); err != nil {
		return nil, fmt.Errorf("nexmark: creating %s: %w", rc.out, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, rc.out)
	}()

	progress("run: %s with engine %s", cfg.Query, cfg.Engine)
	runtime.GC()
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, err
		}
	}
	cpu0, t0 := processCPU(), time.Now()
	err = engine(ctx, rc)
	res.Elapsed, res.CPU = time.Since(t0), processCPU()-cpu0
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, fmt.Errorf("nexmark: running %s: %w", cfg.Query, err)
	}

	progress("output: reading %s", rc.out)
	got := NewDigest(cfg.KeepRows)
	if err := readOutput(ctx, rc, got); err != nil {
		return res, err
	}
	res.OutputRows = got.Rows
	if cfg.Verify {
		progress("verify: computing the reference")
		want, err := Reference(cfg.Query, gen, cfg.Queries, cfg.KeepRows)
		if err != nil {
			return res, err
		}
		res.VerifyErr = Compare(want, got)
		res.Verified = res.VerifyErr == nil
	}
	return res, nil
}

// How each query writes its output:
//   - q0, q1: every record is a bid, encoded as an event (AppendBid);
//   - q2: every record value is one row;
//   - q3, q4, q5, q7, q8: a changelog: the last value of each key counts,
//     holding that key's rows separated by newlines (none when the value is
//     empty or null). A streaming operator that emits on every update, and
//     may emit the same row more than once, thus writes the same result
//     as one that emits only once.
func changelogQuery(q string) bool {
	switch q {
	case "q3", "q4", "q5", "q7", "q8":
		return true
	}
	return false
}

// readOutput digests the output topic's rows.
func readOutput(ctx context.Context, rc *runCtx, d *Digest) error {
	o := newOutputReader(rc.cfg.Query, d)
	err := ReadTopic(ctx, rc.out, o.add, rc.opts...)
	o.finish()
	return err
}

// outputReader turns a query's output records into digested rows.
type outputReader struct {
	q    string
	d    *Digest
	last map[string][]byte
	row  []byte
}

func newOutputReader(q string, d *Digest) *outputReader {
	return &outputReader{q: q, d: d, last: map[string][]byte{}}
}

func (o *outputReader) add(r *kgo.Record) error {
	switch {
	case o.q == "q0" || o.q == "q1":
		var b Bid
		if err := DecodeBid(r.Value, &b); err != nil {
			return fmt.Errorf("nexmark: output offset %d: %w", r.Offset, err)
		}
		o.row = AppendBidRow(o.row[:0], &b)
		o.d.Add(o.row)
	case changelogQuery(o.q):
		o.last[string(r.Key)] = r.Value
	default:
		o.d.Add(r.Value)
	}
	return nil
}

// finish digests the final values of a changelog.
func (o *outputReader) finish() {
	for _, v := range o.last {
		for line := range bytes.SplitSeq(v, []byte{'\n'}) {
			if len(line) > 0 {
				o.d.Add(line)
			}
		}
	}
	clear(o.last)
}

// FlinkPerCore holds the published per-core throughput of Flink 1.13 on
// Nexmark (events/s per core, from the Nexmark project's results), the
// baseline the issue sets (aim: three times these).
var FlinkPerCore = map[string]float64{
	"q0": 155_000, "q1": 158_000, "q2": 175_000, "q3": 152_000,
	"q4": 34_000, "q5": 22_000, "q7": 12_000, "q8": 146_000,
}
