package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

var allCodecs = []int8{None, Gzip, Snappy, LZ4, Zstd}

// compressible returns n bytes that look like record data: repetitive
// text with some noise, so every codec shrinks it.
func compressible(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"kafka", "eddy", "record", "batch", "offset", "topic", "partition", " ", "\n", "{\"k\":", "}"}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(10) == 0 {
			b.WriteByte(byte(rng.Uint32()))
			continue
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func incompressible(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":          {},
		"one":            {'x'},
		"small":          compressible(1, 100),
		"block":          compressible(2, xerialBlockSize),
		"block+1":        compressible(3, xerialBlockSize+1),
		"large":          compressible(4, 1<<20+17),
		"incompressible": incompressible(5, 200<<10),
	}
	for _, c := range allCodecs {
		for name, in := range inputs {
			t.Run(Name(c)+"/"+name, func(t *testing.T) {
				comp, err := Compress(c, in)
				if err != nil {
					t.Fatal(err)
				}
				out, err := Decompress(c, comp, len(in))
				if err != nil {
					t.Fatalf("decompress: %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip mismatch: got %d bytes, want %d", len(out), len(in))
				}
				if len(in) > 0 {
					if _, err := Decompress(c, comp, len(in)-1); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("limit one short: got %v, want ErrTooLarge", err)
					}
				}

				// The Append forms keep what dst holds.
				prefix := []byte("prefix")
				comp2, err := AppendCompress(bytes.Clone(prefix), c, in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(comp2, prefix) || !bytes.Equal(comp2[len(prefix):], comp) {
					t.Fatalf("AppendCompress did not append what Compress returns")
				}
				out2, err := AppendDecompress(bytes.Clone(prefix), c, comp2[len(prefix):], len(in))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out2, append(bytes.Clone(prefix), in...)) {
					t.Fatalf("AppendDecompress mismatch")
				}
			})
		}
	}
}

// TestKgoReadsOurs checks that franz-go's consumer-side decompressor reads
// everything Compress writes, and that we read everything its producer-side
// compressor writes.
func TestKgoInterop(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	kgoCodecs := map[int8]kgo.CompressionCodec{
		Gzip:   kgo.GzipCompression(),
		Snappy: kgo.SnappyCompression(),
		LZ4:    kgo.Lz4Compression(),
		Zstd:   kgo.ZstdCompression(),
	}
	for _, in := range [][]byte{compressible(6, 300), compressible(7, 3<<20/2)} {
		for c, kc := range kgoCodecs {
			ours, err := Compress(c, in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.Decompress(ours, kgo.CompressionCodecType(c))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("%s: kgo cannot read ours: %v", Name(c), err)
			}

			comp, err := kgo.DefaultCompressor(kc)
			if err != nil {
				t.Fatal(err)
			}
			theirs, used := comp.Compress(new(bytes.Buffer), in)
			if int8(used) != c {
				t.Fatalf("%s: kgo compressed with codec %d", Name(c), used)
			}
			got, err = Decompress(c, theirs, len(in))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("%s: cannot read kgo's: %v", Name(c), err)
			}
		}
	}
}

// xerial frames chunks of in (each at most chunk bytes) as snappy-java does.
func xerial(in []byte, chunk int) []byte {
	out := bytes.Clone(xerialHeader)
	for len(in) > 0 {
		n := min(chunk, len(in))
		block := snappy.Encode(nil, in[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		in = in[n:]
	}
	return out
}

// s2Repeat is a block s2 encodes with its "repeat offset" extension (a
// copy with offset 0), which standard snappy does not have.
var s2Repeat = s2.Encode(nil, compressible(1, 84))

func TestSnappyFormats(t *testing.T) {
	if out, err := s2.Decode(nil, s2Repeat); err != nil || !bytes.Equal(out, compressible(1, 84)) {
		t.Fatalf("s2 does not accept the repeat block: %q, %v", out, err)
	}

	in := compressible(8, 100<<10)
	raw := snappy.Encode(nil, in)

	for name, src := range map[string][]byte{
		"raw":           raw,
		"xerial 32KiB":  xerial(in, 32<<10),
		"xerial 1KiB":   xerial(in, 1<<10),
		"xerial single": xerial(in, len(in)),
		"ours":          compressSnappy(nil, in),
	} {
		out, err := Decompress(Snappy, src, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// What we write is exactly the Java framing: the header, then chunks
	// of 32 KiB of input each.
	ours := compressSnappy(nil, in)
	if !bytes.HasPrefix(ours, []byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01")) {
		t.Fatalf("header % x", ours[:16])
	}
	for i, rem := 0, ours[xerialHeaderLen:]; len(rem) > 0; i++ {
		chunk, rest, err := xerialChunk(rem)
		if err != nil {
			t.Fatal(err)
		}
		got, err := snappy.Decode(nil, chunk)
		want := in[i*xerialBlockSize : min(len(in), (i+1)*xerialBlockSize)]
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("chunk %d: %d bytes, %v; want the %d bytes of input block %d", i, len(got), err, len(want), i)
		}
		rem = rest
	}

	// A header with no chunks is an empty stream, as snappy-java reads it.
	if out, err := Decompress(Snappy, xerialHeader, 10); err != nil || len(out) != 0 {
		t.Fatalf("empty xerial: %q, %v", out, err)
	}

	// Different versions in the header are accepted.
	other := bytes.Clone(xerial(in, 4096))
	binary.BigEndian.PutUint32(other[8:], 2)
	if out, err := Decompress(Snappy, other, len(in)); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("version 2 header: %v", err)
	}

	good := xerial(in, 4096)
	for name, src := range map[string][]byte{
		"short length":     good[:xerialHeaderLen+2],
		"truncated chunk":  good[:len(good)-1],
		"huge chunk":       binary.BigEndian.AppendUint32(bytes.Clone(xerialHeader), 1<<31),
		"empty chunk":      binary.BigEndian.AppendUint32(bytes.Clone(xerialHeader), 0),
		"trailing garbage": append(bytes.Clone(good), 1, 2),
		"bad block":        append(binary.BigEndian.AppendUint32(bytes.Clone(xerialHeader), 3), 5, 0xff, 0xff),
		"empty raw":        {},
		"raw truncated":    raw[:len(raw)-1],
		// The s2 "repeat offset" extension (a copy with offset 0) is not
		// snappy; no Java consumer could read it.
		"s2 repeat": s2Repeat,
	} {
		_, err := Decompress(Snappy, src, len(in))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

// allocated runs fn twice and returns how many bytes the second run
// allocated: the steady state, with the pools warm. (Cold, lz4 adds its
// block buffers, up to 2x4 MiB, once.)
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	fn()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecompressionBomb feeds small inputs that expand to 64 MiB to a 1
// MiB limit: each must fail with ErrTooLarge having allocated a few times
// the limit at most, never the output.
func TestDecompressionBomb(t *testing.T) {
	const (
		size  = 64 << 20
		limit = 1 << 20
	)
	zeros := make([]byte, size)

	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(zeros)
	zw.Close()

	// A zstd frame declaring its size, and a streamed one that does not
	// (as the Java client writes), with a window far above the limit.
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	zstdFCS := zenc.EncodeAll(zeros, nil)
	var zs bytes.Buffer
	zsw, _ := zstd.NewWriter(&zs, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
	zsw.Write(zeros)
	zsw.Close()
	var h zstd.Header
	if err := h.Decode(zs.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("streamed zstd frame: %+v, %v", h, err)
	}

	var lz bytes.Buffer
	lw := lz4.NewWriter(&lz)
	lw.Write(zeros)
	lw.Close()
	var lzs bytes.Buffer
	lws := lz4.NewWriter(&lzs)
	lws.Apply(lz4.SizeOption(size))
	lws.Write(zeros)
	lws.Close()

	// Snappy cannot compress better than about 21:1, so its bombs are
	// forged claims: a block announcing far more than it can hold, and a
	// xerial stream whose chunks add up past the limit.
	forged := binary.AppendUvarint(nil, size)
	forged = append(forged, 0)
	chunks := xerial(zeros[:4<<20], 32<<10)

	bombs := map[string]struct {
		codec int8
		src   []byte
		want  error
	}{
		"gzip":               {Gzip, gz.Bytes(), ErrTooLarge},
		"zstd with size":     {Zstd, zstdFCS, ErrTooLarge},
		"zstd streamed":      {Zstd, zs.Bytes(), ErrTooLarge},
		"lz4":                {LZ4, lz.Bytes(), ErrTooLarge},
		"lz4 with size":      {LZ4, lzs.Bytes(), ErrTooLarge},
		"snappy forged":      {Snappy, forged, ErrTooLarge},
		"snappy xerial":      {Snappy, chunks, ErrTooLarge},
		"snappy forged fits": {Snappy, forged, ErrCorrupt}, // with a limit above the claim
	}
	for name, b := range bombs {
		t.Run(name, func(t *testing.T) {
			lim := limit
			if name == "snappy forged fits" {
				lim = 2 * size
			}
			var err error
			alloc := allocated(func() { _, err = Decompress(b.codec, b.src, lim) })
			if !errors.Is(err, b.want) {
				t.Fatalf("got %v, want %v", err, b.want)
			}
			t.Logf("%d compressed bytes, %.1f KiB allocated", len(b.src), float64(alloc)/1024)
			if alloc > 6*limit {
				t.Fatalf("allocated %d bytes for a %d byte limit", alloc, limit)
			}
		})
	}
}

// TestZstdLargeWindow checks that a frame declaring a window far above the
// limit, as Java producers' frames do, still decodes when its content
// fits.
func TestZstdLargeWindow(t *testing.T) {
	in := compressible(9, 50<<10)
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
	w.Write(in)
	w.Flush() // streams the frame header before the size is known
	w.Close()
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS || h.WindowSize < 8<<20 {
		t.Fatalf("want an 8 MiB window and no size: %+v, %v", h, err)
	}
	for _, limit := range []int{len(in), 100 << 10, 1 << 20} {
		out, err := Decompress(Zstd, buf.Bytes(), limit)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
	if _, err := Decompress(Zstd, buf.Bytes(), len(in)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}

	// Several frames, none with a size: the output grows past the
	// first guess.
	big := compressible(10, 3<<20)
	var multi bytes.Buffer
	for i := 0; i < 3; i++ {
		w.Reset(&multi)
		w.Write(big[i<<20 : (i+1)<<20])
		w.Flush()
		w.Close()
	}
	out, err := Decompress(Zstd, multi.Bytes(), len(big))
	if err != nil || !bytes.Equal(out, big) {
		t.Fatalf("multi-frame: %v", err)
	}
}

func TestGzipMultiMember(t *testing.T) {
	a, b := compressible(11, 5000), compressible(12, 7000)
	ca, _ := Compress(Gzip, a)
	cb, _ := Compress(Gzip, b)
	out, err := Decompress(Gzip, append(bytes.Clone(ca), cb...), 12000)
	if err != nil || !bytes.Equal(out, append(bytes.Clone(a), b...)) {
		t.Fatalf("concatenated members: %v", err)
	}
}

func TestCorruptInput(t *testing.T) {
	in := compressible(13, 20000)
	for _, c := range allCodecs[1:] {
		comp, err := Compress(c, in)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, src []byte) {
			t.Helper()
			out, err := Decompress(c, src, 1<<20)
			if err == nil {
				// Damage a codec cannot notice must at least not
				// be silent about size.
				if len(out) > 1<<20 {
					t.Errorf("%s %s: %d bytes", Name(c), what, len(out))
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s %s: %v is neither ErrCorrupt nor ErrTooLarge", Name(c), what, err)
			}
		}
		if _, err := Decompress(c, nil, 100); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: empty input: %v", Name(c), err)
		}
		// Every format notices truncation (xerial snappy only inside
		// a chunk, and this input is one chunk).
		for i := 1; i < len(comp); i += max(1, len(comp)/50) {
			if _, err := Decompress(c, comp[:i], 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s truncated to %d: %v", Name(c), i, err)
			}
		}
		for i := 0; i < len(comp); i += max(1, len(comp)/200) {
			flipped := bytes.Clone(comp)
			flipped[i] ^= 0x55
			check(fmt.Sprintf("flipped %d", i), flipped)
		}
		// Checksummed formats notice a flip in the payload.
		if c == Gzip || c == LZ4 {
			flipped := bytes.Clone(comp)
			flipped[len(flipped)/2] ^= 1
			if _, err := Decompress(c, flipped, 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: payload flip: %v", Name(c), err)
			}
		}
	}
	for _, c := range []int8{-1, 5, 7} {
		if _, err := Decompress(c, []byte{1}, 10); !errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("codec %d: %v", c, err)
		}
		if _, err := Compress(c, []byte{1}); !errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("codec %d: %v", c, err)
		}
	}
	if _, err := Decompress(None, []byte{1, 2}, 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("none over limit: %v", err)
	}
	if _, err := Decompress(Gzip, []byte{1, 2}, -5); err == nil {
		t.Errorf("negative limit accepted")
	}
}

// TestDecompressAllocs checks that pooling leaves one allocation, the
// output, per decompression once the pools are warm.
func TestDecompressAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	in := compressible(14, 64<<10)
	for _, c := range allCodecs[1:] {
		comp, _ := Compress(c, in)
		dst := make([]byte, 0, len(in))
		Decompress(c, comp, len(in))
		n := testing.AllocsPerRun(50, func() {
			if _, err := AppendDecompress(dst, c, comp, len(in)); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %.1f allocs into a pooled buffer", Name(c), n)
		if n > 2 {
			t.Errorf("%s: %.1f allocations per decompression into a sized dst", Name(c), n)
		}
	}
}

var sink io.Writer = io.Discard

func BenchmarkDecompress(b *testing.B) {
	in := compressible(15, 256<<10)
	for _, c := range allCodecs[1:] {
		comp, _ := Compress(c, in)
		b.Run(Name(c), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := Decompress(c, comp, len(in))
				if err != nil {
					b.Fatal(err)
				}
				sink.Write(out[:1])
			}
		})
	}
}

// streamedZstd compresses in the way a Java producer's frames come out:
// streamed, so with no content size, and with a large window.
func streamedZstd(t testing.TB, in []byte, window int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(window))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(in)
	w.Flush()
	w.Close()
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS || h.SingleSegment {
		t.Fatalf("not a streamed frame: %+v, %v", h, err)
	}
	return buf.Bytes()
}

func TestZstdFraming(t *testing.T) {
	in := compressible(16, 40<<10)
	frame := streamedZstd(t, in, 8<<20)
	var h zstd.Header
	h.Decode(frame)

	// The same frame with a 4 byte content size added to its header:
	// not single segment, so still an 8 MiB window.
	sized := append([]byte{}, frame[:4]...)
	sized = append(sized, frame[4]|2<<6, frame[5])
	sized = binary.LittleEndian.AppendUint32(sized, uint32(len(in)))
	sized = append(sized, frame[h.HeaderSize:]...)
	if err := h.Decode(sized); err != nil || !h.HasFCS || h.FrameContentSize != uint64(len(in)) || h.WindowSize != 8<<20 {
		t.Fatalf("sized frame: %+v, %v", h, err)
	}

	skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
	var twice []byte
	twice = append(append(twice, frame...), sized...)

	for name, c := range map[string]struct {
		src  []byte
		want []byte
	}{
		"streamed":           {frame, in},
		"sized":              {sized, in},
		"two frames":         {twice, append(bytes.Clone(in), in...)},
		"skippable first":    {append(bytes.Clone(skippable), frame...), in},
		"skippable between":  {append(append(bytes.Clone(frame), skippable...), frame...), append(bytes.Clone(in), in...)},
		"only skippable":     {skippable, []byte{}},
		"ours after streamd": {append(bytes.Clone(frame), compressZstd(nil, in)...), append(bytes.Clone(in), in...)},
	} {
		for _, limit := range []int{len(c.want), len(c.want) + 1, 10 << 20} {
			out, err := Decompress(Zstd, c.src, limit)
			if err != nil || !bytes.Equal(out, c.want) {
				t.Errorf("%s, limit %d: %d bytes, %v", name, limit, len(out), err)
			}
			// And appended to a prefix, which DecodeAll must not
			// count against the limit.
			out, err = AppendDecompress([]byte("prefix"), Zstd, c.src, limit)
			if err != nil || !bytes.Equal(out, append([]byte("prefix"), c.want...)) {
				t.Errorf("%s, limit %d, after a prefix: %v", name, limit, err)
			}
		}
		// Over the limit is too large, not corrupt, however far below
		// the window the limit is.
		for _, limit := range []int{len(c.want) - 1, len(c.want) / 2, 5000, 100, 0} {
			if limit < 0 || limit >= len(c.want) {
				continue
			}
			if _, err := Decompress(Zstd, c.src, limit); !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s, limit %d: %v", name, limit, err)
			}
		}
	}
	// Our rewrite must not touch the caller's input.
	if !bytes.Equal(frame, streamedZstd(t, in, 8<<20)) {
		t.Fatal("input modified")
	}

	huge := bytes.Clone(frame)
	huge[5] = (28 - 10) << 3 // a 256 MiB window, beyond what Java reads
	for name, src := range map[string][]byte{
		"256 MiB window":    huge,
		"trailing byte":     append(bytes.Clone(frame), 0),
		"trailing 4 bytes":  append(bytes.Clone(frame), 0, 0, 0, 0),
		"truncated":         frame[:len(frame)-1],
		"skippable overrun": append(bytes.Clone(skippable), 'd')[:len(skippable)-1],
		"bad magic":         append([]byte{1}, frame[1:]...),
		"forged size":       append(binary.LittleEndian.AppendUint32(append(append([]byte{}, sized[:4]...), sized[4], sized[5]), math.MaxUint32), sized[10:]...),
	} {
		if _, err := Decompress(Zstd, src, 10<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

// TestConcurrent shares the pools between goroutines; run it with -race.
func TestConcurrent(t *testing.T) {
	in := compressible(17, 100<<10)
	recs := sampleRecords()
	section := encodeRecords(recs)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := range 20 {
				c := allCodecs[(g+i)%len(allCodecs)]
				var comp, out []byte
				if comp, err = Compress(c, in); err != nil {
					return
				}
				if out, err = Decompress(c, comp, len(in)); err != nil {
					return
				}
				if !bytes.Equal(out, in) {
					err = fmt.Errorf("%s: mismatch", Name(c))
					return
				}
				n := 0
				if err = ReadRecords(section, int32(len(recs)), func(r *Record) error {
					if !recordEqual(r, &recs[n]) {
						return fmt.Errorf("record %d differs", n)
					}
					n++
					return nil
				}); err != nil {
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
