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
// empties over two GC cycles), so they add no lasting memory. Classes are
// a quarter of a power of two apart, so a buffer is at most 25% larger
// than asked for and the budgets (queued.max.request.bytes, the fetch
// budgets), which count the bytes asked for, stay close to the memory used.
//
// A buffer goes back to a pool only when nothing references it any more:
// a produce request's frame once its batches are appended (the log copies
// them into the file), a fetch's batches once the response is written.

const (
	minPoolShift = 12 // 4 KiB: smaller buffers are cheap to allocate
	maxPoolShift = 27 // 128 MiB, above socket.request.max.bytes' default
)

var bufPools [(maxPoolShift + 1) * 4]sync.Pool

// poolClass returns the size class of an n-byte buffer and its size: the
// smallest 2^k + q*2^(k-2) (q in 1..4) that is >= n, or 4 KiB.
func poolClass(n int) (class, size int) {
	if n <= 1<<minPoolShift {
		return minPoolShift * 4, 1 << minPoolShift
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	q := (n - 1<<k + 1<<(k-2) - 1) >> (k - 2)
	return k*4 + q, 1<<k + q<<(k-2)
}

// getBuf returns a buffer of length n with unspecified contents.
func getBuf(n int) []byte {
	c, size := poolClass(n)
	if c >= len(bufPools) {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, size)
}

// putBuf recycles a buffer from getBuf (or any slice of one). Buffers of
// other capacities are left to the garbage collector. The caller must not
// use b, or anything sharing its memory, afterwards.
func putBuf(b []byte) {
	c, size := poolClass(cap(b))
	if size != cap(b) || c >= len(bufPools) {
		return
	}
	b = b[:0]
	bufPools[c].Put(&b)
}
