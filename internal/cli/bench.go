package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/bench"
)

// defaultBenchDuration bounds a produce run when neither --records nor
// --duration is given.
const defaultBenchDuration = 10 * time.Second

type benchFlags struct {
	topic         string
	partitions    int32
	replicas      int16
	recordSize    int
	records       int64
	duration      time.Duration
	producers     int
	client        string
	inFlight      int
	fetchMaxBytes byteSize
	acks          string
	compression   string
	batchMaxBytes byteSize
	linger        time.Duration
	rate          float64
	drainTimeout  time.Duration

	diskDir       string
	skipDisk      bool
	diskSize      byteSize
	diskChunk     byteSize
	diskSyncEvery byteSize
	diskDuration  time.Duration
}

// config converts the flags into a bench.Config.
func (bf *benchFlags) config(a *app) (bench.Config, error) {
	if bf.batchMaxBytes > math.MaxInt32 {
		return bench.Config{}, fmt.Errorf("--batch-max-bytes %d is too large", bf.batchMaxBytes)
	}
	if bf.fetchMaxBytes > math.MaxInt32 {
		return bench.Config{}, fmt.Errorf("--fetch-max-bytes %d is too large", bf.fetchMaxBytes)
	}
	if len(a.secOpts) > 0 && bf.client != bench.ClientKgo {
		return bench.Config{}, fmt.Errorf("--client %s speaks plaintext only: use --client %s with --tls or --sasl-user", bf.client, bench.ClientKgo)
	}
	return bench.Config{
		Brokers:       a.brokerList(),
		Topic:         bf.topic,
		Partitions:    bf.partitions,
		Replicas:      bf.replicas,
		RecordSize:    bf.recordSize,
		Records:       bf.records,
		Duration:      bf.duration,
		Producers:     bf.producers,
		Client:        bf.client,
		InFlight:      bf.inFlight,
		FetchMaxBytes: int32(bf.fetchMaxBytes),
		Acks:          bf.acks,
		Compression:   bf.compression,
		BatchMaxBytes: int32(bf.batchMaxBytes),
		Linger:        bf.linger,
		Rate:          bf.rate,
		DrainTimeout:  bf.drainTimeout,
		Logger:        a.logger(),
		ClientOpts:    append([]kgo.Opt{kgo.WithLogger(newKgoLogger(a.logger()))}, a.secOpts...),
	}, nil
}

// produceBounds applies the default duration when the run is unbounded.
func (bf *benchFlags) produceBounds(cfg *bench.Config) {
	if cfg.Records == 0 && cfg.Duration == 0 {
		cfg.Duration = defaultBenchDuration
	}
}

// diskConfig configures the disk baseline for comparison with a broker run
// of runFor: its sustained run lasts --disk-baseline-duration, or runFor
// when that is 0.
func (bf *benchFlags) diskConfig(runFor time.Duration) bench.DiskConfig {
	d := bf.diskDuration
	if d == 0 {
		d = runFor
	}
	return bench.DiskConfig{
		Dir:            bf.diskDir,
		TotalBytes:     int64(bf.diskSize),
		ChunkBytes:     int(bf.diskChunk),
		SyncEveryBytes: int64(bf.diskSyncEvery),
		Duration:       max(d, 0),
	}
}

// diskBaseline runs and prints the disk baseline unless it is skipped.
func (bf *benchFlags) diskBaseline(ctx context.Context, out io.Writer, runFor time.Duration) error {
	if bf.skipDisk {
		return nil
	}
	res, err := bench.DiskBaseline(ctx, bf.diskConfig(runFor))
	if err != nil {
		return err
	}
	if err := res.Print(out); err != nil {
		return err
	}
	_, err = fmt.Fprintln(out)
	return err
}

// printResult prints a run's figures; they are printed even when the run
// ended with an error, since partial figures still say something.
func printResult(out io.Writer, title string, res *bench.Result, runErr error) error {
	if res != nil {
		fmt.Fprintf(out, "%s\n%s\n", title, strings.Repeat("=", len(title)))
		if err := res.Print(out); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if res != nil && res.Errors > 0 {
		return fmt.Errorf("%d records failed, first error: %s", res.Errors, kafkaError(res.FirstError, ""))
	}
	return nil
}

func newBenchCommand(a *app) *cobra.Command {
	bf := &benchFlags{
		batchMaxBytes: 0,
		diskSize:      256 << 20,
		diskChunk:     1 << 20,
		diskSyncEvery: 4 << 20,
	}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a cluster: produce, consume and end-to-end latency",
		Long: `Benchmark the cluster at --brokers (Eddy or any Kafka).

Before each run, the sequential write speed of the disk holding
--disk-baseline is measured: --disk-baseline-size written with a single
fdatasync at the end, the same with an fdatasync every --disk-sync-every to
approximate group commit, and a sustained group-commit run as long as the
broker run (--disk-baseline-duration). Short runs measure bursts that caches
below the filesystem absorb; the sustained run is what produce throughput is
compared with. Point --disk-baseline at the broker's data directory, or skip it with --skip-disk-baseline.

Record values are random (incompressible) and carry their send time in the
first 8 bytes. Runs stop after --records or --duration, whichever comes first;
with neither, a produce run lasts ` + defaultBenchDuration.String() + `.
--rate sets a target aggregate rate for latency-at-load runs; latency is then
measured from each record's scheduled send time.

--client kgo (the default) uses franz-go, as an application would. --client
raw uses a load generator that costs little CPU per record, to measure the
broker rather than the client: it pre-encodes valid record batches and sends
them with --in-flight requests pipelined per connection (--producers
connections per partition leader), patching only timestamps and CRCs, and it
counts fetched records from batch headers without decoding them. Its ack
latency is per request, not per record, in closed-loop runs.

"bench all" runs every measurement in one go and prints one table.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&bf.topic, "topic", "eddy-bench", "topic to use (created if missing)")
	pf.Int32Var(&bf.partitions, "partitions", -1, "partitions when creating the topic (-1: broker default)")
	pf.Int16Var(&bf.replicas, "replicas", -1, "replication factor when creating the topic (-1: broker default)")
	pf.IntVar(&bf.recordSize, "record-size", 100, "record value size in bytes")
	pf.Int64Var(&bf.records, "records", 0, "number of records (0: bounded by --duration)")
	pf.DurationVar(&bf.duration, "duration", 0, "run time (0: bounded by --records; "+defaultBenchDuration.String()+" if neither is set)")
	pf.IntVar(&bf.producers, "producers", 1, "concurrent producer clients (raw client: connections per partition leader)")
	pf.StringVar(&bf.client, "client", bench.ClientKgo, "client: kgo (franz-go) or raw (low-cost load generator)")
	pf.IntVar(&bf.inFlight, "in-flight", 8, "requests in flight per connection (raw client)")
	pf.Var(&bf.fetchMaxBytes, "fetch-max-bytes", "bytes per partition per fetch request (raw client; 0: 1MiB)")
	pf.StringVar(&bf.acks, "acks", "all", "required acks: all, 1 or 0")
	pf.StringVar(&bf.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	pf.Var(&bf.batchMaxBytes, "batch-max-bytes", "maximum record batch size, e.g. 1MiB (0: client default 1000012)")
	pf.DurationVar(&bf.linger, "linger", 10*time.Millisecond, "producer linger (0: send batches immediately)")
	pf.Float64Var(&bf.rate, "rate", 0, "target produce rate in records/s across all producers (0: unlimited)")
	pf.DurationVar(&bf.drainTimeout, "drain-timeout", 30*time.Second, "how long to wait for a consumer to make progress")
	pf.StringVar(&bf.diskDir, "disk-baseline", os.TempDir(), "directory whose disk write speed is measured before the run")
	pf.BoolVar(&bf.skipDisk, "skip-disk-baseline", false, "do not measure the disk baseline")
	pf.Var(&bf.diskSize, "disk-baseline-size", "bytes written by each disk baseline run")
	pf.Var(&bf.diskChunk, "disk-baseline-chunk", "size of each disk baseline write")
	pf.Var(&bf.diskSyncEvery, "disk-sync-every", "fdatasync interval of the group-commit disk baseline run")
	pf.DurationVar(&bf.diskDuration, "disk-baseline-duration", 0, "length of the sustained disk baseline run, which the broker's produce MB/s is compared with (0: as long as the produce run; negative: none)")

	cmd.AddCommand(
		&cobra.Command{
			Use:   "produce",
			Short: "Measure produce throughput and ack latency",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				out := cmd.OutOrStdout()
				cfg, err := bf.config(a)
				if err != nil {
					return err
				}
				bf.produceBounds(&cfg)
				if err := bf.diskBaseline(cmd.Context(), out, cfg.Duration); err != nil {
					return err
				}
				res, err := bench.Produce(cmd.Context(), cfg)
				return printResult(out, "produce", res, err)
			},
		},
		newBenchConsumeCommand(a, bf),
		newBenchRebalanceCommand(a, bf),
		newBenchTxnCommand(a, bf),
		newBenchNexmarkCommand(a, bf),
		newBenchAllCommand(a, bf),
		&cobra.Command{
			Use:   "e2e",
			Short: "Measure produce-to-consume latency while producing",
			Long: `Produce as in "bench produce" while a consumer reads the topic from its
current end; each record's end-to-end latency is the time from its embedded
send timestamp to its arrival at the consumer. Use --rate to measure latency
at a given load rather than at saturation.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				out := cmd.OutOrStdout()
				cfg, err := bf.config(a)
				if err != nil {
					return err
				}
				bf.produceBounds(&cfg)
				if err := bf.diskBaseline(cmd.Context(), out, cfg.Duration); err != nil {
					return err
				}
				res, err := bench.EndToEnd(cmd.Context(), cfg)
				return printResult(out, "e2e", res, err)
			},
		},
		&cobra.Command{
			Use:   "disk",
			Short: "Only measure the disk baseline",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				bf.skipDisk = false
				return bf.diskBaseline(cmd.Context(), cmd.OutOrStdout(), defaultBenchDuration)
			},
		},
	)
	return cmd
}

func newBenchConsumeCommand(a *app, bf *benchFlags) *cobra.Command {
	var fill bool
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Measure consume throughput",
		Long: `Read the topic from the start of every partition as fast as possible: --records
records, or everything present when the run starts (if fewer, or --records is
0). With --fill the topic is first filled by a produce run with the same
flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if err := bf.diskBaseline(cmd.Context(), out, -1); err != nil {
				return err
			}
			cfg, err := bf.config(a)
			if err != nil {
				return err
			}
			if fill {
				pcfg := cfg
				bf.produceBounds(&pcfg)
				res, err := bench.Produce(cmd.Context(), pcfg)
				if err := printResult(out, "fill (produce)", res, err); err != nil {
					return err
				}
				fmt.Fprintln(out)
			}
			res, err := bench.Consume(cmd.Context(), cfg)
			return printResult(out, "consume", res, err)
		},
	}
	cmd.Flags().BoolVar(&fill, "fill", false, "produce --records (or for --duration) to the topic first")
	return cmd
}

func newBenchAllCommand(a *app, bf *benchFlags) *cobra.Command {
	var (
		phase      time.Duration
		sizes      []int
		clients    []string
		e2eLoad    float64
		e2eLinger  time.Duration
		e2eNoFsync bool
		keepTopics bool
	)
	cmd := &cobra.Command{
		Use:     "all",
		Aliases: []string{"report"},
		Short:   "Run every measurement and print one table",
		Long: `Run, against --brokers: the disk baseline (unless --skip-disk-baseline);
produce with each of --clients for each of --record-sizes (acks per --acks,
"all" by default), each for --phase-duration into a fresh topic; consume of
those topics with each client (for up to --phase-duration); and produce-to-
consume latency with each client at --e2e-load of its measured peak produce
rate for the first record size, with the broker's default durability and
(unless --e2e-no-fsync=false) again on a topic with flush.messages at its
maximum, which Eddy acknowledges without fsync. One table then lists records/s, MB/s, the
ratio of produce MB/s to the disk's sequential write speed, and latency
percentiles. The topics are deleted at the end unless --keep-topics.

--records, --duration, --rate, --record-size and --client do not apply; the
other flags (--partitions, --producers, --in-flight, --batch-max-bytes,
--linger, ...) configure every phase.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := bf.config(a)
			if err != nil {
				return err
			}
			rep, err := bench.RunReport(cmd.Context(), bench.ReportConfig{
				Config:        cfg,
				PhaseDuration: phase,
				RecordSizes:   sizes,
				Clients:       clients,
				E2ELoad:       e2eLoad,
				E2ELinger:     e2eLinger,
				E2ENoFsync:    e2eNoFsync,
				SkipDisk:      bf.skipDisk,
				Disk:          bf.diskConfig(phase),
				KeepTopics:    keepTopics,
				Progress:      cmd.ErrOrStderr(),
			})
			if rep != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
				if perr := rep.Print(cmd.OutOrStdout()); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.DurationVar(&phase, "phase-duration", 5*time.Second, "bound of each produce, consume and e2e phase")
	f.IntSliceVar(&sizes, "record-sizes", []int{100, 1024}, "record value sizes of the produce and consume phases")
	f.StringSliceVar(&clients, "clients", []string{bench.ClientRaw, bench.ClientKgo}, "clients to run each phase with")
	f.Float64Var(&e2eLoad, "e2e-load", 0.5, "end-to-end rate as a fraction of the client's peak produce rate")
	f.DurationVar(&e2eLinger, "e2e-linger", time.Millisecond, "producer linger of the end-to-end phases")
	f.BoolVar(&e2eNoFsync, "e2e-no-fsync", true, "also measure end-to-end latency on a topic with fsync relaxed (flush.messages at its maximum)")
	f.BoolVar(&keepTopics, "keep-topics", false, "keep the topics the run creates")
	return cmd
}

// byteSize is a flag value holding a byte count, accepting plain numbers and
// the suffixes B, K/KB/KiB, M/MB/MiB and G/GB/GiB (all binary multiples).
type byteSize int64

// String implements pflag.Value.
func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Type implements pflag.Value.
func (b *byteSize) Type() string { return "bytes" }

// Set implements pflag.Value.
func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]int64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n < 0 {
		return fmt.Errorf("invalid size %q (e.g. 1048576, 512KiB, 4MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}
