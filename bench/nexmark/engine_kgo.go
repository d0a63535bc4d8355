package nexmark

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runKgo runs q0, q1 or q2 as a plain franz-go loop: fetch, decode bids,
// transform, produce; done when every event up to the end offsets is
// processed and every output acknowledged.
func runKgo(ctx context.Context, rc *runCtx) error {
	offsets := map[int32]kgo.Offset{}
	for p := range rc.ends {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(rc.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{rc.in: offsets}),
		kgo.DefaultProduceTopic(rc.out),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<18), kgo.FetchMaxBytes(32<<20), kgo.FetchMaxPartitionBytes(16<<20))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		errOnce  sync.Once
		firstErr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err })
		}
	}
	left := map[int32]int64{}
	for p, end := range rc.ends {
		if end > 0 {
			left[p] = end
		}
	}
	var b Bid
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch %s[%d]: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Offset == left[r.Partition]-1 {
				delete(left, r.Partition)
			}
			if len(r.Value) == 0 || Kind(r.Value[0]) != KindBid {
				continue
			}
			if err := DecodeBid(r.Value, &b); err != nil {
				return fmt.Errorf("offset %d: %w", r.Offset, err)
			}
			var v []byte
			switch rc.cfg.Query {
			case "q0":
				v = AppendBid(nil, &b)
			case "q1":
				b.Price = Q1Price(b.Price)
				v = AppendBid(nil, &b)
			case "q2":
				if b.Auction%rc.qc.Q2Modulus != 0 {
					continue
				}
				v = AppendQ2Row(nil, b.Auction, b.Price)
			}
			cl.Produce(ctx, &kgo.Record{Value: v, Timestamp: r.Timestamp}, done)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	errOnce.Do(func() {})
	return firstErr
}
