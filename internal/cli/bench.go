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
}

// config converts the flags into a bench.Config.
func (bf *benchFlags) config(a *app) (bench.Config, error) {
	if bf.batchMaxBytes > math.MaxInt32 {
		return bench.Config{}, fmt.Errorf("--batch-max-bytes %d is too large", bf.batchMaxBytes)
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
		Acks:          bf.acks,
		Compression:   bf.compression,
		BatchMaxBytes: int32(bf.batchMaxBytes),
		Linger:        bf.linger,
		Rate:          bf.rate,
		DrainTimeout:  bf.drainTimeout,
		Logger:        a.logger(),
		ClientOpts:    []kgo.Opt{kgo.WithLogger(newKgoLogger(a.logger()))},
	}, nil
}

// produceBounds applies the default duration when the run is unbounded.
func (bf *benchFlags) produceBounds(cfg *bench.Config) {
	if cfg.Records == 0 && cfg.Duration == 0 {
		cfg.Duration = defaultBenchDuration
	}
}

// diskBaseline runs and prints the disk baseline unless it is skipped.
func (bf *benchFlags) diskBaseline(ctx context.Context, out io.Writer) error {
	if bf.skipDisk {
		return nil
	}
	res, err := bench.DiskBaseline(ctx, bench.DiskConfig{
		Dir:            bf.diskDir,
		TotalBytes:     int64(bf.diskSize),
		ChunkBytes:     int(bf.diskChunk),
		SyncEveryBytes: int64(bf.diskSyncEvery),
	})
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
--disk-baseline is measured (a single fdatasync at the end, and an fdatasync
every --disk-sync-every to approximate group commit), so that the broker's
figures can be compared with what the disk can do. Point --disk-baseline at
the broker's data directory, or skip it with --skip-disk-baseline.

Record values are random (incompressible) and carry their send time in the
first 8 bytes. Runs stop after --records or --duration, whichever comes first;
with neither, a produce run lasts ` + defaultBenchDuration.String() + `.
--rate sets a target aggregate rate for latency-at-load runs; latency is then
measured from each record's scheduled send time.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&bf.topic, "topic", "eddy-bench", "topic to use (created if missing)")
	pf.Int32Var(&bf.partitions, "partitions", -1, "partitions when creating the topic (-1: broker default)")
	pf.Int16Var(&bf.replicas, "replicas", -1, "replication factor when creating the topic (-1: broker default)")
	pf.IntVar(&bf.recordSize, "record-size", 100, "record value size in bytes")
	pf.Int64Var(&bf.records, "records", 0, "number of records (0: bounded by --duration)")
	pf.DurationVar(&bf.duration, "duration", 0, "run time (0: bounded by --records; "+defaultBenchDuration.String()+" if neither is set)")
	pf.IntVar(&bf.producers, "producers", 1, "concurrent producer clients")
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

	cmd.AddCommand(
		&cobra.Command{
			Use:   "produce",
			Short: "Measure produce throughput and ack latency",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				out := cmd.OutOrStdout()
				if err := bf.diskBaseline(cmd.Context(), out); err != nil {
					return err
				}
				cfg, err := bf.config(a)
				if err != nil {
					return err
				}
				bf.produceBounds(&cfg)
				res, err := bench.Produce(cmd.Context(), cfg)
				return printResult(out, "produce", res, err)
			},
		},
		newBenchConsumeCommand(a, bf),
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
				if err := bf.diskBaseline(cmd.Context(), out); err != nil {
					return err
				}
				cfg, err := bf.config(a)
				if err != nil {
					return err
				}
				bf.produceBounds(&cfg)
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
				return bf.diskBaseline(cmd.Context(), cmd.OutOrStdout())
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
			if err := bf.diskBaseline(cmd.Context(), out); err != nil {
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
