package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TxnResult holds the figures of one transactional produce run.
type TxnResult struct {
	// CommitEvery is the number of records per transaction.
	CommitEvery int
	// Produce holds the records, bytes, rates and the per-record
	// produce-to-acknowledgement latency (Ack) of the run.
	Produce *Result
	// Transactions is the number of committed transactions.
	Transactions int64
	// Commit is the latency of EndTransaction(commit), from the call,
	// after the transaction's records were flushed and acknowledged, to
	// its return: the EndTxn round trip, in which the broker writes the
	// PrepareCommit record durably, then the commit markers on every
	// partition of the transaction.
	Commit *LatencySummary
}

// Transactional produces records as cfg.Producers transactional franz-go
// clients (each with its own transactional id), committing a transaction
// every commitEvery records, until cfg.Records or cfg.Duration: every
// transaction produces commitEvery records (acks=all, idempotent), flushes
// them, and commits. It reports the throughput of committed records, their
// acknowledgement latency, and the commit latency. cfg.Rate, Acks and
// Client do not apply (transactions need acks=all and franz-go).
func Transactional(ctx context.Context, cfg Config, commitEvery int) (*TxnResult, error) {
	cfg = cfg.withDefaults()
	cfg.Client, cfg.Acks, cfg.Rate = ClientKgo, "all", 0
	if commitEvery < 1 {
		return nil, fmt.Errorf("commit every %d records: want at least 1", commitEvery)
	}
	if err := cfg.validateProduce(); err != nil {
		return nil, err
	}
	if err := cfg.ensureTopic(ctx); err != nil {
		return nil, err
	}
	opts, err := cfg.producerOpts()
	if err != nil {
		return nil, err
	}
	ps := &producers{payload: randomPayload(cfg.RecordSize)}
	defer ps.close()
	run := rand.Uint64()
	for i := range cfg.Producers {
		cl, err := cfg.newClient(append(opts, kgo.TransactionalID(fmt.Sprintf("eddy-bench-txn-%x-%d", run, i)))...)
		if err != nil {
			return nil, fmt.Errorf("creating producer: %w", err)
		}
		ps.clients = append(ps.clients, cl)
	}
	// Warm up: one committed transaction of one record per producer.
	for _, cl := range ps.clients {
		if err := txnRound(ctx, cl, []*kgo.Record{{Value: ps.value(cfg.RecordSize, time.Now(), 0)}}, nil, nil); err != nil {
			return nil, fmt.Errorf("warm-up transaction on %s: %w", cfg.Topic, err)
		}
	}

	st := new(produceStats)
	ack, commit := NewHistogram(), NewHistogram()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		txns     int64
		claimed  int64
		start    = time.Now()
		deadline time.Time
	)
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	claim := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := int64(commitEvery)
		if cfg.Records > 0 {
			n = min(n, cfg.Records-claimed)
		}
		claimed += max(n, 0)
		return int(max(n, 0))
	}
	for _, cl := range ps.clients {
		wg.Go(func() {
			recs := make([]*kgo.Record, 0, commitEvery)
			for k := 0; ctx.Err() == nil; k++ {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				n := claim()
				if n == 0 {
					return
				}
				recs = recs[:0]
				for j := range n {
					recs = append(recs, &kgo.Record{Value: ps.value(cfg.RecordSize, time.Now(), k*commitEvery+j)})
				}
				err := txnRound(ctx, cl, recs, ack, commit)
				if err != nil {
					st.failed.Add(int64(n))
					st.errOnce.Do(func() { st.firstErr = err })
					if ctx.Err() == nil {
						cfg.Logger.Warn("transaction failed", "err", err)
					}
					return
				}
				st.acked.Add(int64(n))
				st.bytes.Add(int64(n * cfg.RecordSize))
				mu.Lock()
				txns++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	res := &TxnResult{CommitEvery: commitEvery, Produce: st.result("txn", cfg), Transactions: txns}
	if ack.Count() > 0 {
		s := ack.Summary()
		res.Produce.Ack = &s
	}
	if commit.Count() > 0 {
		s := commit.Summary()
		res.Commit = &s
	}
	res.Produce.finish()
	return res, ctx.Err()
}

// txnRound runs one transaction: begin, produce recs, flush, commit. It
// records each record's acknowledgement latency in ack and the commit's
// latency in commit (when not nil).
func txnRound(ctx context.Context, cl *kgo.Client, recs []*kgo.Record, ack, commit *Histogram) error {
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	var (
		errMu sync.Mutex
		first error
	)
	for _, r := range recs {
		sent := time.Now()
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
				return
			}
			if ack != nil {
				ack.Record(time.Since(sent))
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	if first != nil {
		cl.EndTransaction(ctx, kgo.TryAbort)
		return first
	}
	t0 := time.Now()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return err
	}
	if commit != nil {
		commit.Record(time.Since(t0))
	}
	return nil
}

// PrintTxnTable writes one table comparing a plain idempotent produce run
// (base, may be nil) with transactional runs.
func PrintTxnTable(w io.Writer, base *Result, runs []*TxnResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MODE\tRECORDS\tTXNS\tRECORDS/S\tMB/S\tACK P50\tACK P99\tCOMMIT P50\tCOMMIT P99\t")
	lat := func(s *LatencySummary) (string, string) {
		if s == nil {
			return "-", "-"
		}
		return ms(s.P50), ms(s.P99)
	}
	if base != nil {
		a50, a99 := lat(base.Ack)
		fmt.Fprintf(tw, "idempotent\t%d\t-\t%.0f\t%.2f\t%s\t%s\t-\t-\t\n", base.Records, base.RecordsPerSec, base.MBPerSec, a50, a99)
	}
	for _, r := range runs {
		a50, a99 := lat(r.Produce.Ack)
		c50, c99 := lat(r.Commit)
		fmt.Fprintf(tw, "txn every %d\t%d\t%d\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t\n", r.CommitEvery, r.Produce.Records, r.Transactions,
			r.Produce.RecordsPerSec, r.Produce.MBPerSec, a50, a99, c50, c99)
	}
	return tw.Flush()
}
