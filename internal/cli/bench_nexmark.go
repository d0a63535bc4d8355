package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/bench/nexmark"
	"github.com/eddy-streaming/eddy/broker"
)

// newBenchNexmarkCommand returns "eddy bench nexmark". Of the bench flags it
// uses --partitions and --compression.
func newBenchNexmarkCommand(a *app, bf *benchFlags) *cobra.Command {
	var (
		queries []string
		events  int64
		rate    float64
		engine  string
		verify  bool
		dataDir string
		fsync   bool
		state   string
		profile string
	)
	cmd := &cobra.Command{
		Use:   "nexmark",
		Short: "Run Nexmark queries end to end through a broker and check their results",
		Long: `Generate --events Nexmark events (people, auctions and bids, with the
parameters of the Beam/Flink generator; --rate sets their spacing in event
time), load them into one topic, run each --query over them into an output
topic, and report events/s: wall clock, and per CPU-second of this process
(so per core). With --verify (the default) the output is compared with a
plain reference implementation of the query.

Flink's Nexmark suite spaces events at 10M/s and closes every window when its
bounded input ends; here windows close only as event time passes them, so the
default --rate (20,000/s: 1M events span 50s) lets q5, q7 and q8 close
windows during the run.

--compression (default none, as Kafka's producers: on loopback it costs
CPU and saves nothing) is the codec of the events loaded and of the query's
output; each codec gets its own events topic.

Without --brokers (or EDDY_BROKERS), an Eddy broker is started inside this
process on a temporary directory (or --data-dir), so the CPU time then
includes the broker's work; point --brokers at a broker running elsewhere to
measure the query alone. Events already loaded with the same parameters are
reused.

--engine stream runs the queries written with Eddy's stream DSL as a bounded
run (one instance, state per --state); --engine kgo runs q0, q1 and q2 as a
hand-written franz-go loop, the floor that client and broker set.

Windowed queries (q5, q7, q8) report every window: those the input's event
time closed, then, when the bounded input ends, those still open (as Flink).`,
		Example: `  eddy bench nexmark --query q0 --events 10000000
  eddy bench nexmark --query all --events 1000000
  eddy bench nexmark --query q5 --brokers 127.0.0.1:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(queries) == 1 && queries[0] == "all" {
				queries = nexmark.Queries
			}
			for _, q := range queries {
				if !slices.Contains(nexmark.Queries, q) {
					return fmt.Errorf("unknown query %q (known: %s, or all)", q, strings.Join(nexmark.Queries, ", "))
				}
			}
			brokers := a.brokerList()
			if !cmd.Flags().Changed("brokers") && os.Getenv(BrokersEnv) == "" {
				dir := dataDir
				if dir == "" {
					tmp, err := os.MkdirTemp("", "eddy-nexmark-")
					if err != nil {
						return err
					}
					defer os.RemoveAll(tmp)
					dir = tmp
				}
				settings := map[string]string{}
				if !fsync {
					settings["log.flush.interval.messages"] = "9223372036854775807"
				}
				b, err := broker.New(broker.WithDataDir(dir), broker.WithListen("127.0.0.1:0"),
					broker.WithLogger(a.logger()), broker.WithConfig(settings))
				if err != nil {
					return fmt.Errorf("starting the embedded broker: %w", err)
				}
				defer b.Close()
				brokers = []string{b.Addr()}
				fmt.Fprintf(cmd.ErrOrStderr(), "embedded broker on %s, data in %s\n", b.Addr(), dir)
			}
			out := cmd.OutOrStdout()
			var results []*nexmark.RunResult
			for _, q := range queries {
				var prof io.Writer
				if profile != "" {
					f, err := os.Create(strings.ReplaceAll(profile, "QUERY", q))
					if err != nil {
						return err
					}
					defer f.Close()
					prof = f
				}
				res, err := nexmark.Run(cmd.Context(), nexmark.RunConfig{
					Brokers:     brokers,
					Query:       q,
					Engine:      engine,
					Generator:   nexmark.Config{Events: events, EventsPerSecond: rate},
					Partitions:  max(bf.partitions, 1),
					Compression: bf.compression,
					State:       state,
					Verify:      verify,
					Logger:      a.logger(),
					Progress:    cmd.ErrOrStderr(),
					ClientOpts:  []kgo.Opt{kgo.WithLogger(newKgoLogger(a.logger()))},
					CPUProfile:  prof,
				})
				if res != nil {
					if err := res.Print(out); err != nil {
						return err
					}
					results = append(results, res)
				}
				if err != nil {
					return err
				}
			}
			printNexmarkSummary(out, results)
			for _, r := range results {
				if r.VerifyErr != nil {
					return fmt.Errorf("%s: output differs from the reference", r.Query)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&queries, "query", []string{"q0"}, "queries to run: "+strings.Join(nexmark.Queries, ", ")+", or all")
	f.Int64Var(&events, "events", 1_000_000, "number of events")
	f.Float64Var(&rate, "rate", 20_000, "events per second of event time: spaces the events' timestamps, so sets how many events a window holds")
	f.StringVar(&engine, "engine", nexmark.EngineStream, "engine: stream (Eddy's stream DSL) or kgo (plain franz-go loop; q0, q1, q2)")
	f.BoolVar(&verify, "verify", true, "check the output against the reference implementation")
	f.StringVar(&state, "state", nexmark.StatePebble, "where the stream engine keeps state: pebble (on disk, in a temporary directory) or memory")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of each query run to this file (QUERY in the name is replaced by the query)")
	f.StringVar(&dataDir, "data-dir", "", "data directory of the embedded broker (default: a temporary directory)")
	f.BoolVar(&fsync, "fsync", true, "embedded broker: fsync before acknowledging (false: rely on the page cache)")
	return cmd
}

// printNexmarkSummary prints one line per query with Flink 1.13's per-core
// figure beside ours.
func printNexmarkSummary(w io.Writer, results []*nexmark.RunResult) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-5s %-7s %12s %14s %14s %8s %s\n", "query", "engine", "events", "events/s wall", "events/s/core", "vs Flink", "verified")
	for _, r := range results {
		ratio := "-"
		if f := nexmark.FlinkPerCore[r.Query]; f > 0 && r.EventsPerCoreSec() > 0 {
			ratio = fmt.Sprintf("%.2fx", r.EventsPerCoreSec()/f)
		}
		verified := "not checked"
		switch {
		case r.Verified:
			verified = "yes"
		case r.VerifyErr != nil:
			verified = "NO"
		}
		fmt.Fprintf(w, "%-5s %-7s %12d %14.0f %14.0f %8s %s\n", r.Query, r.Engine, r.Events, r.EventsPerSec(), r.EventsPerCoreSec(), ratio, verified)
	}
}
