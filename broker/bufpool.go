package broker

import (
	"math/bits"
	"sync"
)

// Buffers for request frames and fetched record batches are recycled
// through size-classed pools rather than allocated per request: a fresh
// megabyte costs zeroing, and once the Go runtime has returned it to the
// OS, page faults to get it back, on every produce and fetch. The pools
// hold only what the garbage collector has not reclaimed yet (sync.Pool
// empties over two GC cycles), so they add no lasting memory; the budgets
// (queued.max.request.bytes, the fetch budgets) still bound what is in use.
//
// A buffer goes back to a pool only when nothing references it any more:
// a produce request's frame once its batches are appended (the log copies
// them into the file), a fetch's batches once the response is encoded.

const (
	minPoolClass = 12 // 4 KiB: smaller buffers are cheap to allocate
	maxPoolClass = 27 // 128 MiB, above socket.request.max.bytes' default
)

var bufPools [maxPoolClass + 1]sync.Pool

// poolClass returns the size class of an n-byte buffer: the smallest power
// of two >= n.
func poolClass(n int) int {
	if n <= 1<<minPoolClass {
		return minPoolClass
	}
	return bits.Len(uint(n - 1))
}

// getBuf returns a buffer of length n with unspecified contents.
func getBuf(n int) []byte {
	c := poolClass(n)
	if c > maxPoolClass {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putBuf recycles a buffer from getBuf (or any slice of one). Buffers of
// other capacities are left to the garbage collector. The caller must not
// use b, or anything sharing its memory, afterwards.
func putBuf(b []byte) {
	c := cap(b)
	if c < 1<<minPoolClass || c > 1<<maxPoolClass || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	bufPools[bits.Len(uint(c))-1].Put(&b)
}
