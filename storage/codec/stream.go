package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/pierrec/lz4/v4"
)

// Gzip and lz4 decode as streams, which readAll bounds by the limit. Their
// decoders are pooled together with the bytes.Reader they read from, so
// that a decompression allocates nothing but its output.

type gzipDecoder struct {
	zr    gzip.Reader
	src   bytes.Reader
	probe [1]byte
}

type lz4Decoder struct {
	zr    *lz4.Reader
	src   bytes.Reader
	probe [1]byte
}

var (
	gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}
	lz4Decoders  = sync.Pool{New: func() any { return &lz4Decoder{zr: lz4.NewReader(nil)} }}
)

// maxDeflateRatio is the most deflate can expand its input (zlib's
// documented 1032:1). It caps the size hint a forged gzip trailer can talk
// us into allocating up front.
const maxDeflateRatio = 1032

// maxLZ4Ratio is about the most LZ4 can expand its input, which caps the
// size hint of a forged frame header the same way.
const maxLZ4Ratio = 255

func decompressGzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil) // drop the reference to src before pooling
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	if err := d.zr.Reset(&d.src); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // empty input: no gzip header
		}
		return nil, err
	}
	// The trailer holds the size of the last member modulo 2^32: exact
	// for the single member every producer writes, and only a hint.
	hint := 0
	if len(src) >= 18 {
		isize := uint64(binary.LittleEndian.Uint32(src[len(src)-4:]))
		hint = int(min(isize, uint64(len(src))*maxDeflateRatio))
	}
	return readAll(dst, &d.zr, d.probe[:], hint, limit)
}

func decompressLZ4(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return nil, io.ErrUnexpectedEOF // not even a frame header
	}
	// An lz4 frame may declare its content size: trust it to size the
	// output, and to reject an oversized frame before decoding it.
	hint := 4 * len(src)
	if len(src) >= 14 && binary.LittleEndian.Uint32(src) == 0x184D2204 && src[4]&0x08 != 0 {
		size := binary.LittleEndian.Uint64(src[6:])
		if size > uint64(limit) {
			return nil, errTooLarge(size, limit)
		}
		hint = int(min(size, uint64(len(src))*maxLZ4Ratio))
	}
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.zr.Reset(nil) // returns block buffers to lz4's pools
		d.src.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.zr.Reset(&d.src)
	return readAll(dst, d.zr, d.probe[:], hint, limit)
}

// readAll reads r to EOF, appending to dst, and fails with ErrTooLarge
// rather than append more than limit bytes: once limit bytes are in, it
// asks for a single further byte, into probe, to tell EOF from excess.
// The output first gets room for hint bytes (capped at limit) and then
// grows by doubling, never past limit; reading to EOF is what makes the
// codecs verify their checksums.
func readAll(dst []byte, r io.Reader, probe []byte, hint, limit int) ([]byte, error) {
	start := len(dst)
	end := math.MaxInt // len(dst) may not grow past end
	if limit <= math.MaxInt-start {
		end = start + limit
	}
	dst = slices.Grow(dst, max(min(hint, limit), 0))
	for {
		if len(dst) == cap(dst) || len(dst) >= end {
			// Out of room: probe before growing, so that an exact
			// hint never costs a reallocation just to see EOF.
			_, err := io.ReadFull(r, probe[:1])
			if err == io.EOF {
				return dst, nil
			}
			if err != nil {
				return nil, err
			}
			if len(dst) >= end {
				return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
			}
			grow := min(end-len(dst), max(len(dst)-start, 512))
			dst = append(slices.Grow(dst, grow), probe[0])
			continue
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), end)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func errTooLarge(size uint64, limit int) error {
	return fmt.Errorf("%w: declared size %d, limit %d", ErrTooLarge, size, limit)
}

// appendWriter is an io.Writer appending to b, so that stream encoders can
// write straight into the caller's dst.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type gzipEncoder struct {
	zw *gzip.Writer
	w  appendWriter
}

type lz4Encoder struct {
	zw *lz4.Writer
	w  appendWriter
}

var (
	gzipEncoders = sync.Pool{New: func() any {
		e := new(gzipEncoder)
		e.zw, _ = gzip.NewWriterLevel(&e.w, gzip.DefaultCompression)
		return e
	}}
	lz4Encoders = sync.Pool{New: func() any {
		e := new(lz4Encoder)
		e.zw = lz4.NewWriter(&e.w)
		return e
	}}
)

func compressGzip(dst, src []byte) ([]byte, error) {
	e := gzipEncoders.Get().(*gzipEncoder)
	defer gzipEncoders.Put(e)
	e.w.b = dst
	defer func() { e.w.b = nil }()
	e.zw.Reset(&e.w)
	if _, err := e.zw.Write(src); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.w.b, nil
}

func compressLZ4(dst, src []byte) ([]byte, error) {
	e := lz4Encoders.Get().(*lz4Encoder)
	defer lz4Encoders.Put(e)
	e.w.b = dst
	defer func() { e.w.b = nil }()
	e.zw.Reset(&e.w)
	if _, err := e.zw.Write(src); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.w.b, nil
}
