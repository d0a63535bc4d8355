package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streaming/eddy/bench"
)

// newBenchTxnCommand returns "eddy bench txn": transactional produce,
// committing every N records, beside plain idempotent produce.
func newBenchTxnCommand(a *app, bf *benchFlags) *cobra.Command {
	var (
		every     []int
		skipPlain bool
	)
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "Measure transactional produce (commit every N records) beside plain idempotent produce",
		Long: `Produce with franz-go as in "bench produce" (acks=all, idempotent), first
without transactions (unless --skip-plain), then once for every N in
--commit-every: --producers transactional producers, each running
transactions of N records (begin, produce, flush, commit) back to back.
Each run lasts --duration (default 5s) or --records. The table gives
records/s and MB/s of committed records, the records' ack latency, and the
commit latency (EndTransaction: the broker makes the commit decision
durable and writes a marker on every partition of the transaction).

--client, --acks and --rate do not apply.`,
		Example: `  eddy bench txn --commit-every 1,100,10000 --duration 10s`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if err := bf.diskBaseline(cmd.Context(), out, -1); err != nil {
				return err
			}
			cfg, err := bf.config(a)
			if err != nil {
				return err
			}
			cfg.Client, cfg.Acks, cfg.Rate = bench.ClientKgo, "all", 0
			if cfg.Records == 0 && cfg.Duration == 0 {
				cfg.Duration = 5 * time.Second
			}
			var base *bench.Result
			if !skipPlain {
				base, err = bench.Produce(cmd.Context(), cfg)
				if err == nil && base.Errors > 0 {
					err = fmt.Errorf("%d records failed, first error: %s", base.Errors, kafkaError(base.FirstError, ""))
				}
				if err != nil {
					return fmt.Errorf("idempotent produce: %w", err)
				}
			}
			var runs []*bench.TxnResult
			for _, n := range every {
				res, err := bench.Transactional(cmd.Context(), cfg, n)
				if res != nil {
					runs = append(runs, res)
				}
				if err == nil && res.Produce.Errors > 0 {
					err = fmt.Errorf("%d records failed, first error: %s", res.Produce.Errors, kafkaError(res.Produce.FirstError, ""))
				}
				if err != nil {
					bench.PrintTxnTable(out, base, runs)
					return fmt.Errorf("transactions of %d records: %w", n, err)
				}
			}
			title := "transactional produce"
			fmt.Fprintf(out, "%s\n%s\n", title, strings.Repeat("=", len(title)))
			return bench.PrintTxnTable(out, base, runs)
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&every, "commit-every", []int{1, 100, 10000}, "records per transaction, one run for each")
	f.BoolVar(&skipPlain, "skip-plain", false, "do not run plain idempotent produce first")
	return cmd
}
