package codec

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzMaxLimit keeps the fuzzer's limits, and so its memory, small.
const fuzzMaxLimit = 4 << 20

func FuzzDecompress(f *testing.F) {
	inputs := [][]byte{
		{},
		[]byte("a"),
		compressible(1, 300),
		compressible(2, 40<<10),
		incompressible(3, 2000),
		make([]byte, 100<<10),
	}
	for _, in := range inputs {
		for _, c := range allCodecs {
			comp, _ := Compress(c, in)
			f.Add(uint8(c), comp, uint32(len(in)))
			f.Add(uint8(c), comp, uint32(len(in)/2))
		}
		f.Add(uint8(Snappy), s2.EncodeSnappy(nil, in), uint32(len(in)))
		f.Add(uint8(Snappy), xerial(in, 1000), uint32(len(in)))
		if len(in) > 0 {
			f.Add(uint8(Zstd), streamedZstd(f, in, 4<<20), uint32(len(in)))
		}
	}
	f.Add(uint8(Snappy), s2Repeat, uint32(1000))
	f.Add(uint8(Snappy), bytes.Clone(xerialHeader), uint32(10))
	f.Add(uint8(Zstd), []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}, uint32(10))
	g1, _ := Compress(Gzip, []byte("one"))
	g2, _ := Compress(Gzip, []byte("two"))
	f.Add(uint8(Gzip), append(g1, g2...), uint32(10))

	f.Fuzz(func(t *testing.T, codec uint8, src []byte, limitArg uint32) {
		c := int8(codec % 6) // 5 is unsupported
		limit := int(limitArg % fuzzMaxLimit)
		out, err := Decompress(c, src, limit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedCodec) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("%d bytes past a limit of %d", len(out), limit)
		}
		// The output is exactly what the bound lets through.
		if again, err := Decompress(c, src, len(out)); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("limit %d, the output size: %v", len(out), err)
		}
		if len(out) > 0 {
			if _, err := Decompress(c, src, len(out)-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("limit one short: %v", err)
			}
		}
		// What we accept, the reference decoders accept identically.
		var ref []byte
		switch c {
		case None:
			ref = src
		case Gzip:
			zr, rerr := gzip.NewReader(bytes.NewReader(src))
			if rerr == nil {
				ref, rerr = io.ReadAll(zr)
			}
			err = rerr
		case Snappy:
			if isXerial(src) {
				ref, err = xerialDecodeS2(src)
			} else {
				ref, err = s2.Decode(nil, src)
			}
		case LZ4:
			ref, err = io.ReadAll(lz4.NewReader(bytes.NewReader(src)))
		case Zstd:
			d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			ref, err = d.DecodeAll(src, nil)
			d.Close()
		}
		if err != nil || !bytes.Equal(ref, out) {
			t.Fatalf("reference decoder: %d bytes, %v; we decoded %d", len(ref), err, len(out))
		}
		// And it survives our own round trip.
		comp, err := Compress(c, out)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := Decompress(c, comp, len(out)); err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// xerialDecodeS2 is a plain reference reader for xerial framing.
func xerialDecodeS2(src []byte) ([]byte, error) {
	var out []byte
	for rem := src[xerialHeaderLen:]; len(rem) > 0; {
		chunk, rest, err := xerialChunk(rem)
		if err != nil {
			return nil, err
		}
		dec, err := s2.Decode(nil, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, dec...)
		rem = rest
	}
	return out, nil
}

func FuzzReadRecords(f *testing.F) {
	recs := sampleRecords()
	f.Add(encodeRecords(recs), int32(len(recs)))
	f.Add(encodeRecords(recs[:1]), int32(1))
	f.Add(encodeRecords(recs), int32(len(recs)-1))
	f.Add([]byte{}, int32(0))
	f.Add(rawRecord([]byte{0}, 0, []byte{0x80, 0}, -1, -1, 0), int32(1))
	f.Add(rawRecord([]byte{0}, 0, 0, -1, -1, 1, 1, "k", -1), int32(1))
	f.Add(rawRecord([]byte{0}, 0, 0, -2, 1, "v", 0), int32(1))

	f.Fuzz(func(t *testing.T, b []byte, n int32) {
		var got []Record
		err := ReadRecords(b, n, func(r *Record) error {
			got = append(got, cloneRecord(r))
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if int32(len(got)) != n {
			t.Fatalf("%d records, want %d", len(got), n)
		}
		// kmsg reads every record the same way.
		rest := b
		for i := range got {
			l, m := varint32(rest)
			var kr kmsg.Record
			if err := kr.ReadFrom(rest[:m+int(l)]); err != nil {
				t.Fatalf("record %d: kmsg: %v", i, err)
			}
			r := &got[i]
			if kr.Attributes != r.Attributes || kr.TimestampDelta64 != r.TimestampDelta || kr.OffsetDelta != r.OffsetDelta ||
				!nullableEqual(kr.Key, r.Key) || !nullableEqual(kr.Value, r.Value) || len(kr.Headers) != len(r.Headers) {
				t.Fatalf("record %d: kmsg read %+v, we read %+v", i, kr, *r)
			}
			for j, h := range kr.Headers {
				if h.Key != r.Headers[j].Key || !nullableEqual(h.Value, r.Headers[j].Value) {
					t.Fatalf("record %d header %d differs", i, j)
				}
			}
			rest = rest[m+int(l):]
		}
		// Re-encoding reads back the same; with minimal varints it is
		// byte for byte the input.
		re := encodeRecords(got)
		var again []Record
		if err := ReadRecords(re, n, func(r *Record) error { again = append(again, cloneRecord(r)); return nil }); err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		for i := range got {
			if !recordEqual(&got[i], &again[i]) {
				t.Fatalf("record %d changed on re-encoding", i)
			}
		}
		if len(re) > len(b) {
			t.Fatalf("re-encoding grew %d bytes to %d", len(b), len(re))
		}
	})
}
