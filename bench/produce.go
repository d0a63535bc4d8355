package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce writes records to cfg.Topic (creating it if needed) with
// cfg.Producers concurrent clients until cfg.Records are sent or
// cfg.Duration has passed, and reports the throughput of acknowledged
// records and their acknowledgement latency.
//
// Without a Rate the producers run closed-loop: each blocks once its client
// buffers the maximum number of unacknowledged records, so the ack latency
// includes that queueing. Before timing starts, every producer sends one
// synchronous warm-up record (not counted) to set up connections and
// metadata.
//
// With the raw client (cfg.Client "raw") there is no warm-up record; the
// producer sends full batches (cfg.BatchMaxBytes) in a closed loop with
// cfg.InFlight requests in flight per connection, and Ack holds one sample
// per request (per record with a Rate). See the raw client's description
// in rawproduce.go.
//
// If ctx is cancelled mid-run the figures so far are returned together with
// ctx's error.
func Produce(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validateProduce(); err != nil {
		return nil, err
	}
	if err := cfg.ensureTopic(ctx); err != nil {
		return nil, err
	}
	p, err := cfg.startProducer(ctx)
	if err != nil {
		return nil, err
	}
	defer p.close()
	ack := NewHistogram()
	st := p.run(ctx, cfg, ack)
	res := st.result("produce", cfg)
	if ack.Count() > 0 {
		s := ack.Summary()
		res.Ack = &s
	}
	res.finish()
	return res, ctx.Err()
}

// producer is the kgo or raw producer of a run.
type producer interface {
	run(ctx context.Context, cfg Config, ack *Histogram) *produceStats
	// warmups is the number of warm-up records sent before run.
	warmups() int
	close()
}

// startProducer starts the producer cfg.Client selects.
func (c Config) startProducer(ctx context.Context) (producer, error) {
	if c.Client == ClientRaw {
		return startRawProducer(ctx, c)
	}
	return startProducers(ctx, c)
}

// producers is a set of warmed-up producer clients.
type producers struct {
	clients []*kgo.Client
	payload []byte // random filler the record values are cut from
	closed  bool
}

// producerOpts are the franz-go options of the run's producers: acks,
// compression, topic, batch size and linger.
func (c Config) producerOpts() ([]kgo.Opt, error) {
	opts, err := ProducerOptions(c.Acks, c.Compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(c.Topic))
	if c.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.BatchMaxBytes))
	}
	if c.Linger >= 0 {
		opts = append(opts, kgo.ProducerLinger(c.Linger))
	}
	return opts, nil
}

// startProducers creates cfg.Producers clients and sends one synchronous
// warm-up record through each.
func startProducers(ctx context.Context, cfg Config) (*producers, error) {
	opts, err := cfg.producerOpts()
	if err != nil {
		return nil, err
	}
	ps := &producers{payload: randomPayload(cfg.RecordSize)}
	for range cfg.Producers {
		cl, err := cfg.newClient(opts...)
		if err != nil {
			ps.close()
			return nil, fmt.Errorf("creating producer: %w", err)
		}
		ps.clients = append(ps.clients, cl)
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(ps.clients))
	)
	for i, cl := range ps.clients {
		wg.Go(func() {
			r := &kgo.Record{Value: ps.value(cfg.RecordSize, time.Now(), i)}
			errs[i] = cl.ProduceSync(ctx, r).FirstErr()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			ps.close()
			return nil, fmt.Errorf("warm-up produce to %s: %w", cfg.Topic, err)
		}
	}
	cfg.Logger.Debug("producers warmed up", "producers", len(ps.clients), "topic", cfg.Topic)
	return ps, nil
}

func (ps *producers) warmups() int { return len(ps.clients) }

// close closes every client once; closing fails any still-buffered record.
func (ps *producers) close() {
	if ps.closed {
		return
	}
	ps.closed = true
	for _, cl := range ps.clients {
		cl.Close()
	}
}

// randomPayload returns incompressible filler: enough that consecutive
// records get different slices of it.
func randomPayload(size int) []byte {
	b := make([]byte, size+4096)
	rng := rand.NewChaCha8([32]byte{'e', 'd', 'd', 'y'})
	_, _ = rng.Read(b)
	return b
}

// value builds one record value of size bytes: the send time in the first
// TimestampSize bytes (if it fits), random filler after.
func (ps *producers) value(size int, sent time.Time, n int) []byte {
	v := make([]byte, size)
	off := (n * 61) % (len(ps.payload) - size)
	copy(v, ps.payload[off:])
	if size >= TimestampSize {
		binary.BigEndian.PutUint64(v, uint64(sent.UnixNano()))
	}
	return v
}

// sentTime decodes the send time a benchmark record carries, if any.
func sentTime(value []byte) (time.Time, bool) {
	if len(value) < TimestampSize {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(value))), true
}

// produceStats accumulates the outcome of a producing run.
type produceStats struct {
	acked, failed, bytes atomic.Int64
	errOnce              sync.Once
	firstErr             error
	elapsed              time.Duration
	requests             int64 // raw client only
}

func (st *produceStats) result(mode string, cfg Config) *Result {
	return &Result{
		Mode:       mode,
		Client:     cfg.Client,
		RecordSize: cfg.RecordSize,
		Requests:   st.requests,
		Rate:       cfg.Rate,
		// The raw client times requests in closed-loop runs.
		AckPerRequest: cfg.Client == ClientRaw && cfg.Rate == 0,
		Records:       st.acked.Load(),
		Errors:        st.failed.Load(),
		FirstError:    st.firstErr,
		Bytes:         st.bytes.Load(),
		Elapsed:       st.elapsed,
	}
}

// run produces until the record or time budget is spent, flushes, and
// records each acknowledged record's latency in ack.
func (ps *producers) run(ctx context.Context, cfg Config, ack *Histogram) *produceStats {
	st := new(produceStats)
	var (
		claimed  atomic.Int64
		wg       sync.WaitGroup
		inflight sync.WaitGroup
		start    = time.Now()
		deadline time.Time
		nprod    = len(ps.clients)
	)
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	for i, cl := range ps.clients {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				if cfg.Records > 0 && claimed.Add(1) > cfg.Records {
					return
				}
				sent := time.Now()
				if cfg.Rate == 0 && !deadline.IsZero() && !sent.Before(deadline) {
					return
				}
				if cfg.Rate > 0 {
					// Record n of producer i is due at (n*nprod+i)/Rate: the
					// producers interleave to give an even aggregate rate.
					sent = start.Add(time.Duration(float64(n*nprod+i) / cfg.Rate * float64(time.Second)))
					if !deadline.IsZero() && !sent.Before(deadline) {
						return
					}
					if !sleepUntil(ctx, sent) {
						return
					}
				}
				r := &kgo.Record{Value: ps.value(cfg.RecordSize, sent, n)}
				inflight.Add(1)
				cl.Produce(ctx, r, func(r *kgo.Record, err error) {
					defer inflight.Done()
					if err != nil {
						st.failed.Add(1)
						st.errOnce.Do(func() { st.firstErr = err })
						return
					}
					ack.Record(time.Since(sent))
					st.acked.Add(1)
					st.bytes.Add(int64(len(r.Key) + len(r.Value)))
				})
			}
		})
	}
	wg.Wait()
	for _, cl := range ps.clients {
		if err := cl.Flush(ctx); err != nil {
			cfg.Logger.Warn("flush interrupted", "err", err)
		}
	}
	st.elapsed = time.Since(start)
	if ctx.Err() != nil {
		// Flush gave up: closing fails what is still buffered, so that
		// every promise has run before the figures are read.
		ps.close()
	}
	inflight.Wait()
	cfg.Logger.Debug("producing done", "acked", st.acked.Load(), "failed", st.failed.Load(), "elapsed", st.elapsed)
	return st
}

// sleepUntil sleeps until t or ctx is done, reporting whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
