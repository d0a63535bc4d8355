package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume reads cfg.Topic from the log start of every partition as fast as
// possible and reports the throughput. It reads cfg.Records records (or
// everything present when the run starts, if that is fewer or Records is 0),
// stopping early once cfg.Duration has passed and at least one record has
// arrived. The clock starts just before the first fetch, so it includes
// connection setup.
//
// It fails if the topic is empty or if no record arrives for
// cfg.DrainTimeout; in the latter case the partial figures are returned with
// the error.
//
// With the raw client (cfg.Client "raw") each partition's range is read as
// chunks fetched concurrently, cfg.InFlight requests in flight per
// connection and cfg.FetchMaxBytes per request, and records are counted
// from batch headers without being decoded, so Bytes counts record batches
// (Result.BatchBytes). With Records below what the topic holds, every
// partition contributes its share from its start. The clock starts after
// connection setup.
func Consume(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validateClient(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("bench: no brokers")
	}
	if cfg.Records < 0 || cfg.Duration < 0 {
		return nil, errors.New("bench: Records and Duration must not be negative")
	}
	admCl, err := cfg.newClient()
	if err != nil {
		return nil, err
	}
	start, end, err := listOffsets(ctx, kadm.NewClient(admCl), cfg.Topic)
	admCl.Close()
	if err != nil {
		return nil, err
	}
	var available int64
	from := make(map[int32]kgo.Offset)
	for p, e := range end {
		if s := start[p]; e > s {
			available += e - s
			from[p] = kgo.NewOffset().At(s)
		}
	}
	if available == 0 {
		return nil, fmt.Errorf("bench: topic %s is empty; produce to it first", cfg.Topic)
	}
	target := available
	if cfg.Records > 0 && cfg.Records < available {
		target = cfg.Records
	} else if cfg.Records > available {
		cfg.Logger.Warn("topic holds fewer records than requested", "topic", cfg.Topic,
			"requested", cfg.Records, "available", available)
	}

	if cfg.Client == ClientRaw {
		return rawConsume(ctx, cfg, start, rangeEnds(start, end, target))
	}

	cl, err := cfg.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: from}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	res := &Result{Mode: "consume", Client: ClientKgo}
	t0 := time.Now()
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, t0.Add(cfg.Duration))
		defer cancel()
	}
	last := t0
	var runErr error
	// The deadline ends the run only once something has been read: on a
	// loaded machine connection setup alone can outlast a short Duration.
	for res.Records < target && (res.Records == 0 || runCtx.Err() == nil) {
		parent := runCtx
		if res.Records == 0 {
			parent = ctx
		}
		pctx, cancel := context.WithTimeout(parent, cfg.DrainTimeout)
		fetches := cl.PollFetches(pctx)
		cancel()
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				cfg.Logger.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if res.Records < target {
				res.Records++
				res.Bytes += int64(len(r.Key) + len(r.Value))
			}
		})
		now := time.Now()
		if fetches.NumRecords() > 0 {
			last = now
		} else if (res.Records == 0 || runCtx.Err() == nil) && now.Sub(last) >= cfg.DrainTimeout {
			runErr = fmt.Errorf("bench: no records for %s after consuming %d of %d", cfg.DrainTimeout, res.Records, target)
			break
		}
	}
	res.Elapsed = last.Sub(t0)
	res.finish()
	if runErr == nil {
		runErr = ctx.Err()
	}
	return res, runErr
}

// rangeEnds returns the end of the range to read of every partition so
// that target records are read in all, each partition contributing in
// proportion to what it holds.
func rangeEnds(start, end map[int32]int64, target int64) map[int32]int64 {
	var available int64
	parts := make([]int32, 0, len(end))
	for p, e := range end {
		available += max(e-start[p], 0)
		parts = append(parts, p)
	}
	slices.Sort(parts)
	to := make(map[int32]int64, len(end))
	left := target
	for _, p := range parts {
		n := max(end[p]-start[p], 0)
		share := min(n, int64(float64(target)*float64(n)/float64(max(available, 1))))
		to[p] = start[p] + share
		left -= share
	}
	for _, p := range parts { // rounding leftovers
		if left <= 0 {
			break
		}
		extra := min(left, end[p]-to[p])
		to[p] += extra
		left -= extra
	}
	return to
}

// EndToEnd measures produce-to-consume latency: a consumer reads cfg.Topic
// from its current end while producers write to it as in Produce, and each
// record's latency is the time from the send timestamp embedded in its value
// to its arrival at the consumer. cfg.RecordSize must be at least
// TimestampSize. With a Rate the embedded time is the scheduled send time,
// so a producer or broker falling behind shows as latency (no coordinated
// omission).
//
// With the raw client both sides are raw: the producer batches the records
// that come due within cfg.Linger (or sends what is due whenever a request
// slot is free, with no linger), patching each record's scheduled time
// into its value; the consumer walks fetched batches for the values only.
// Records must be uncompressed.
//
// Producing is bounded by cfg.Records / cfg.Duration; the run then waits up
// to cfg.DrainTimeout for the consumer to receive every acknowledged record.
// The result has both the ack and end-to-end latency; Records and the rates
// count consumed records, over the time from the start of producing to the
// last record consumed.
func EndToEnd(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validateProduce(); err != nil {
		return nil, err
	}
	if cfg.RecordSize < TimestampSize {
		return nil, fmt.Errorf("bench: end-to-end records need at least %d bytes (RecordSize %d)", TimestampSize, cfg.RecordSize)
	}
	if cfg.Client == ClientRaw && cfg.Compression != "none" {
		return nil, errors.New("bench: raw end-to-end runs need uncompressed records (--compression none)")
	}
	if err := cfg.ensureTopic(ctx); err != nil {
		return nil, err
	}
	// The consumer reads from the end as of now. It is started before
	// the producer, and with kgo timing starts only once it has received
	// the producers' warm-up records, so that no record's latency includes
	// the consumer's start-up.
	admCl, err := cfg.newClient()
	if err != nil {
		return nil, err
	}
	_, end, err := listOffsets(ctx, kadm.NewClient(admCl), cfg.Topic)
	admCl.Close()
	if err != nil {
		return nil, err
	}

	var (
		e2e              = NewHistogram()
		consumed, nbytes atomic.Int64
		warm             atomic.Int64 // records received before timing
		measuring        atomic.Bool
		lastNanos        atomic.Int64
		cctx, stop       = context.WithCancel(ctx)
		wg               sync.WaitGroup
		consumeErr       error
	)
	defer func() {
		stop()
		wg.Wait()
	}()
	onRecord := func(now time.Time, value []byte) {
		if !measuring.Load() {
			warm.Add(1)
			return
		}
		if sent, ok := sentTime(value); ok {
			e2e.Record(now.Sub(sent))
		}
		nbytes.Add(int64(len(value)))
		consumed.Add(1)
		lastNanos.Store(now.UnixNano())
	}
	if cfg.Client == ClientRaw {
		tail, err := startRawTail(ctx, cfg, end)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			if err := tail.run(cctx, cfg, onRecord); err != nil && cctx.Err() == nil {
				consumeErr = fmt.Errorf("bench: consumer: %w", err)
				cfg.Logger.Warn("raw consumer failed", "err", err)
			}
		})
	} else {
		from := make(map[int32]kgo.Offset, len(end))
		for p, e := range end {
			from[p] = kgo.NewOffset().At(e)
		}
		cl, err := cfg.newClient(
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: from}),
			kgo.FetchMaxWait(100*time.Millisecond),
		)
		if err != nil {
			return nil, err
		}
		defer func() { // after the consumer has stopped
			stop()
			wg.Wait()
			cl.Close()
		}()
		wg.Go(func() {
			for cctx.Err() == nil {
				fetches := cl.PollFetches(cctx)
				fetches.EachError(func(t string, p int32, err error) {
					if !errors.Is(err, context.Canceled) {
						cfg.Logger.Warn("fetch error", "topic", t, "partition", p, "err", err)
					}
				})
				fetches.EachRecord(func(r *kgo.Record) {
					onRecord(time.Now(), r.Value)
				})
			}
		})
	}

	p, err := cfg.startProducer(ctx)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if n := int64(p.warmups()); n > 0 {
		deadline := time.Now().Add(cfg.DrainTimeout)
		for warm.Load() < n {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("bench: consumer received %d of %d warm-up records within %s", warm.Load(), n, cfg.DrainTimeout)
			}
			if !sleepUntil(ctx, time.Now().Add(time.Millisecond)) {
				return nil, ctx.Err()
			}
		}
	}
	measuring.Store(true)

	ack := NewHistogram()
	t0 := time.Now()
	st := p.run(ctx, cfg, ack)
	produced := st.acked.Load()

	// Wait for the consumer to catch up with what was acknowledged.
	var runErr error
	drain := time.NewTimer(cfg.DrainTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
wait:
	for consumed.Load() < produced {
		select {
		case <-tick.C:
		case <-drain.C:
			runErr = fmt.Errorf("bench: consumer received %d of %d acknowledged records within %s",
				consumed.Load(), produced, cfg.DrainTimeout)
			break wait
		case <-ctx.Done():
			runErr = ctx.Err()
			break wait
		}
	}
	drain.Stop()
	tick.Stop()
	stop()
	wg.Wait()
	if runErr != nil && consumeErr != nil {
		runErr = consumeErr
	}

	res := st.result("e2e", cfg)
	res.Produced = produced
	res.Records = consumed.Load()
	res.Bytes = nbytes.Load()
	res.Rate = cfg.Rate
	if l := lastNanos.Load(); l > 0 {
		res.Elapsed = time.Unix(0, l).Sub(t0)
	}
	if ack.Count() > 0 {
		s := ack.Summary()
		res.Ack = &s
	}
	if e2e.Count() > 0 {
		s := e2e.Summary()
		res.EndToEnd = &s
	}
	res.finish()
	return res, runErr
}
