package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram geometry: every power-of-two range of values is split into
// histSub linear sub-buckets, HDR style, so a recorded value is known to
// within 1/histSub (< 0.8%) of itself. Values are nanoseconds; the whole
// int64 range fits in a fixed ~66 KiB of counters.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + histSub
)

// Histogram records durations in fixed memory with bounded relative error,
// in the manner of an HDR histogram with log-linear buckets. All methods are
// safe for concurrent use; Record is lock-free. The zero value is ready to
// use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps only after ~584 years of samples
	min    atomic.Uint64 // stored as value+1 so that 0 means "unset"
	max    atomic.Uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return new(Histogram) }

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	e := bits.Len64(v) - (histSubBits + 1)
	if e < 0 {
		e = 0
	}
	// For e == 0, v < 2*histSub maps linearly; above, v>>e lies in
	// [histSub, 2*histSub) and buckets of consecutive exponents abut.
	return e*histSub + int(v>>uint(e))
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	e := i/histSub - 1
	m := uint64(i - e*histSub)
	if e < 0 {
		e, m = 0, uint64(i)
	}
	lo = m << uint(e)
	hi = lo + (uint64(1) << uint(e)) - 1
	return lo, hi
}

// Record adds one duration. Negative durations are recorded as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		cur := h.min.Load()
		if cur != 0 && cur-1 <= v {
			break
		}
		if h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
	for {
		cur := h.max.Load()
		if cur >= v || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Merge adds every sample of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.Count() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	lo, hi := o.Min(), o.Max()
	for {
		cur := h.min.Load()
		if cur != 0 && cur-1 <= uint64(lo) {
			break
		}
		if h.min.CompareAndSwap(cur, uint64(lo)+1) {
			break
		}
	}
	for {
		cur := h.max.Load()
		if cur >= uint64(hi) || h.max.CompareAndSwap(cur, uint64(hi)) {
			break
		}
	}
}

// Count returns the number of recorded samples.
func (h *Histogram) Count() int64 { return int64(h.total.Load()) }

// Min returns the smallest recorded duration (exact), or 0 if empty.
func (h *Histogram) Min() time.Duration {
	if m := h.min.Load(); m > 0 {
		return time.Duration(m - 1)
	}
	return 0
}

// Max returns the largest recorded duration (exact), or 0 if empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the average recorded duration, or 0 if empty.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the duration at quantile q in [0, 1]: the highest value
// of the bucket holding the sample of rank ceil(q*count), clamped to the
// exact minimum and maximum (which q <= 0 and q >= 1 return). It returns 0
// for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	switch {
	case q <= 0:
		return h.Min()
	case q >= 1:
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			d := time.Duration(min(hi, math.MaxInt64))
			return max(min(d, h.Max()), h.Min())
		}
	}
	return h.Max()
}

// Summary returns the headline figures of the histogram.
func (h *Histogram) Summary() LatencySummary {
	return LatencySummary{
		Count: h.Count(),
		Min:   h.Min(),
		Mean:  h.Mean(),
		P50:   h.Quantile(0.50),
		P90:   h.Quantile(0.90),
		P99:   h.Quantile(0.99),
		P999:  h.Quantile(0.999),
		Max:   h.Max(),
	}
}
