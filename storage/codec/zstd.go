package codec

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// maxZstdWindow is the largest frame window we accept: 128 MiB, the
// default limit of the reference decoder (ZSTD_WINDOWLOG_LIMIT_DEFAULT),
// and so the largest window a Java consumer can read.
const maxZstdWindow = 1 << 27

// zstdMinWindow is the smallest window a frame can have.
const zstdMinWindow = 1 << 10

// zstdMaxBlock is the largest a block can decode to.
const zstdMaxBlock = 128 << 10

// zstdMaxRatio is the most a zstd frame can expand: a 4 byte RLE block
// decodes to a 128 KiB block.
const zstdMaxRatio = zstdMaxBlock / 4

// zstdMinGuess is the smallest output buffer we start with when the frames
// do not all declare their size.
const zstdMinGuess = 64 << 10

// zstdDecoder and zstdEncoder hold a pooled codec, closing it when the pool
// drops it. maxMem is the decoder's current WithDecoderMaxMemory.
type zstdDecoder struct {
	d      *zstd.Decoder
	maxMem uint64
}

type zstdEncoder struct{ e *zstd.Encoder }

var (
	zstdDecoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow),
		)
		if err != nil {
			panic(err) // static options
		}
		w := &zstdDecoder{d: d}
		runtime.AddCleanup(w, func(d *zstd.Decoder) { d.Close() }, d)
		return w
	}}
	zstdEncoders = sync.Pool{New: func() any {
		// As franz-go's producer: one goroutine, a 64 KiB window (small
		// for readers to hold), and a frame even for empty input.
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(64<<10),
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			panic(err) // static options
		}
		w := &zstdEncoder{e: e}
		runtime.AddCleanup(w, func(e *zstd.Encoder) { e.Close() }, e)
		return w
	}}
)

// decompressZstd decodes with DecodeAll, which writes straight into the
// output and reads match history from there, bounded by
// WithDecoderMaxMemory: the decoder checks the bound against the declared
// content size before decoding and against the output after every block,
// so it stops within a block (128 KiB) of it.
//
// That bound doubles as a cap on frame windows, and Java producers stream,
// declaring a 2 MiB window (8 MiB and more at high levels) however small
// the batch; a small limit would reject their ordinary batches. So a frame
// whose window exceeds the limit gets its window descriptor lowered to the
// smallest window not below the limit, on a copy of the input. That is
// safe: a match can only reach back over output already produced, and
// output past the limit fails anyway. Skippable frames are dropped from
// that copy, since the decoder reports them on stderr.
func decompressZstd(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("empty input: %w", zstd.ErrMagicMismatch)
	}
	floor := uint64(max(limit, zstdMinWindow))
	// Lowered windows stay at 128 KiB at least: below that the window
	// also lowers the block size limit, and a valid frame over the limit
	// would fail as corrupt instead of too large.
	wd, window := zstdWindowFor(max(floor, zstdMaxBlock))

	// Walk the frames: reject what cannot fit before decoding anything,
	// and find out whether the input needs rewriting.
	var (
		declared uint64 // total size the frames declare
		allSized = true // whether every frame declares its size
		widened  bool   // whether some frame's window exceeds floor
		rewrite  bool
		it       = zstdFrames{src: src}
	)
	for it.next() {
		h := &it.h
		if h.Skippable {
			rewrite = true
			continue
		}
		if h.HasFCS {
			// A forged size must not buy an allocation either.
			if h.FrameContentSize > uint64(it.end-it.start)*zstdMaxRatio {
				return nil, fmt.Errorf("frame of %d bytes declares %d decoded bytes: %w",
					it.end-it.start, h.FrameContentSize, zstd.ErrFrameSizeMismatch)
			}
			declared += h.FrameContentSize
			if declared > uint64(limit) {
				return nil, errTooLarge(declared, limit)
			}
		} else {
			allSized = false
		}
		if h.WindowSize > maxZstdWindow {
			return nil, zstd.ErrWindowSizeExceeded
		}
		if h.WindowSize > floor {
			widened = true
			rewrite = rewrite || h.WindowSize > window
		}
	}
	if it.err != nil {
		return nil, it.err
	}

	maxMem := floor
	if widened {
		maxMem = window
	}
	if rewrite {
		src = zstdRewrite(src, window, wd)
	}

	size := int(declared)
	if !allSized {
		size = min(limit, max(8*len(src), zstdMinGuess))
	}
	start := len(dst)
	dst = slices.Grow(dst, size)

	w := zstdDecoders.Get().(*zstdDecoder)
	defer zstdDecoders.Put(w)
	if w.maxMem != maxMem {
		if err := w.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(maxMem)); err != nil {
			return nil, err
		}
		w.maxMem = maxMem
	}
	// DecodeAll counts what dst already holds against the bound, so it
	// gets only dst's spare capacity.
	spare := dst[start:cap(dst)]
	out, err := w.d.DecodeAll(src, spare[:0])
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(out), limit)
	}
	if len(out) <= len(spare) && (len(out) == 0 || &out[0] == &spare[0]) {
		return dst[:start+len(out)], nil // decoded in place
	}
	return append(dst, out...), nil // DecodeAll outgrew the guess
}

// zstdWindowFor returns the smallest window descriptor, and its window, not
// below n.
func zstdWindowFor(n uint64) (wd byte, window uint64) {
	for exp := range uint64(32) {
		base := uint64(1) << (10 + exp)
		for mantissa := range uint64(8) {
			if w := base + base/8*mantissa; w >= n {
				return byte(exp<<3 | mantissa), w
			}
		}
	}
	panic("unreachable: windows reach 2^41")
}

// zstdRewrite returns a copy of src without its skippable frames, and with
// every frame window above window lowered to it, with descriptor wd.
func zstdRewrite(src []byte, window uint64, wd byte) []byte {
	out := make([]byte, 0, len(src))
	it := zstdFrames{src: src}
	for it.next() {
		if it.h.Skippable {
			continue
		}
		at := len(out)
		out = append(out, src[it.start:it.end]...)
		if !it.h.SingleSegment && it.h.WindowSize > window {
			out[at+5] = wd // after the magic and the frame header descriptor
		}
	}
	return out
}

// zstdFrames walks the frames of a zstd input, reading their headers and
// skipping over their blocks without decoding them.
type zstdFrames struct {
	src        []byte
	start, end int // the current frame is src[start:end]
	h          zstd.Header
	err        error
}

var errZstdFraming = errors.New("zstd: malformed frame")

func (it *zstdFrames) next() bool {
	if it.err != nil || it.end == len(it.src) {
		return false
	}
	it.start = it.end
	f := it.src[it.start:]
	if err := it.h.Decode(f); err != nil {
		it.err = err
		return false
	}
	p := it.h.HeaderSize
	if it.h.Skippable {
		if uint64(it.h.SkippableSize) > uint64(len(f)-p) {
			it.err = errZstdFraming
			return false
		}
		p += int(it.h.SkippableSize)
	} else {
		for last := false; !last; {
			if len(f)-p < 3 {
				it.err = errZstdFraming
				return false
			}
			bh := uint32(f[p]) | uint32(f[p+1])<<8 | uint32(f[p+2])<<16
			p += 3
			last = bh&1 != 0
			switch (bh >> 1) & 3 {
			case 0, 2: // raw, compressed: that many bytes follow
				p += int(bh >> 3)
			case 1: // RLE: one byte follows
				p++
			default:
				it.err = errZstdFraming
				return false
			}
			if p > len(f) {
				it.err = errZstdFraming
				return false
			}
		}
		if it.h.HasCheckSum {
			p += 4
		}
	}
	if p > len(f) {
		it.err = errZstdFraming
		return false
	}
	it.end = it.start + p
	return true
}

func compressZstd(dst, src []byte) []byte {
	w := zstdEncoders.Get().(*zstdEncoder)
	defer zstdEncoders.Put(w)
	return w.e.EncodeAll(src, dst)
}
