package codec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sampleRecords covers the shapes a record can take: null and empty keys
// and values, headers with null and empty values, extreme deltas.
func sampleRecords() []Record {
	return []Record{
		{Key: nil, Value: []byte("v0")},
		{Key: []byte{}, Value: []byte{}, OffsetDelta: 1, TimestampDelta: 1},
		{Key: []byte("k"), Value: nil, OffsetDelta: 2, TimestampDelta: -1},
		{
			Attributes: 0, OffsetDelta: 3, TimestampDelta: math.MaxInt64,
			Key: []byte("key"), Value: bytes.Repeat([]byte("value"), 100),
			Headers: []Header{{Key: "h1", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}},
		},
		{OffsetDelta: math.MaxInt32, TimestampDelta: math.MinInt64, Key: bytes.Repeat([]byte{0xff}, 300), Value: []byte{0}},
		{OffsetDelta: 5, Headers: []Header{{Key: "only", Value: []byte("header")}}},
	}
}

func encodeRecords(recs []Record) []byte {
	var b []byte
	for i := range recs {
		b = AppendRecord(b, &recs[i])
	}
	return b
}

// recordEqual compares records, telling null from empty.
func recordEqual(a, b *Record) bool {
	if a.Attributes != b.Attributes || a.TimestampDelta != b.TimestampDelta || a.OffsetDelta != b.OffsetDelta ||
		!nullableEqual(a.Key, b.Key) || !nullableEqual(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !nullableEqual(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func nullableEqual(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func cloneRecord(r *Record) Record {
	c := *r
	c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
	c.Headers = nil
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, Header{Key: string([]byte(h.Key)), Value: bytes.Clone(h.Value)})
	}
	return c
}

func TestRecordsRoundTrip(t *testing.T) {
	recs := sampleRecords()
	b := encodeRecords(recs)

	var got []Record
	err := ReadRecords(b, int32(len(recs)), func(r *Record) error {
		got = append(got, cloneRecord(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if !recordEqual(&got[i], &recs[i]) {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], recs[i])
		}
	}

	// Each record is laid out exactly as kmsg encodes and decodes it,
	// and RecordLen is its size.
	rest := b
	for i := range recs {
		n := RecordLen(&recs[i])
		var kr kmsg.Record
		if err := kr.ReadFrom(rest[:n]); err != nil {
			t.Fatalf("record %d: kmsg: %v", i, err)
		}
		if kr.TimestampDelta64 != recs[i].TimestampDelta || kr.OffsetDelta != recs[i].OffsetDelta ||
			!nullableEqual(kr.Key, recs[i].Key) || !nullableEqual(kr.Value, recs[i].Value) ||
			len(kr.Headers) != len(recs[i].Headers) {
			t.Fatalf("record %d: kmsg read %+v", i, kr)
		}
		l, m := varint32(rest)
		if int(l)+m != n {
			t.Fatalf("record %d: length prefix %d+%d, RecordLen %d", i, l, m, n)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}

	// Key and Value alias the section and are capped.
	ReadRecords(b, int32(len(recs)), func(r *Record) error {
		if r.Key != nil && cap(r.Key) != len(r.Key) || r.Value != nil && cap(r.Value) != len(r.Value) {
			t.Fatalf("uncapped key or value")
		}
		return nil
	})

	// An error from fn stops the iteration and comes back as is.
	stop := errors.New("stop")
	calls := 0
	if err := ReadRecords(b, int32(len(recs)), func(*Record) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("got %v after %d calls", err, calls)
	}

	// Zero records in zero bytes is fine.
	if err := ReadRecords(nil, 0, func(*Record) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRecordReaderReuse(t *testing.T) {
	recs := sampleRecords()
	b := encodeRecords(recs)
	var rr RecordReader
	for range 3 {
		rr.Reset(b, int32(len(recs)))
		i := 0
		for rr.Next() {
			if !recordEqual(rr.Record(), &recs[i]) {
				t.Fatalf("record %d differs", i)
			}
			i++
		}
		if rr.Err() != nil || i != len(recs) {
			t.Fatalf("%d records, %v", i, rr.Err())
		}
		if rr.Next() {
			t.Fatal("Next after the end")
		}
	}
}

func TestReadRecordsAllocs(t *testing.T) {
	recs := sampleRecords()
	var b []byte
	for range 50 {
		b = append(b, encodeRecords(recs)...)
	}
	n := int32(50 * len(recs))
	var rr RecordReader
	var total int
	allocs := testing.AllocsPerRun(100, func() {
		rr.Reset(b, n)
		for rr.Next() {
			total += len(rr.Record().Value)
		}
		if rr.Err() != nil {
			t.Fatal(rr.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("RecordReader: %.1f allocations per pass of %d records", allocs, n)
	}
	// ReadRecords pools its readers.
	allocs = testing.AllocsPerRun(100, func() {
		ReadRecords(b, n, func(r *Record) error { total += len(r.Key); return nil })
	})
	if allocs != 0 {
		t.Fatalf("ReadRecords: %.1f allocations per call of %d records", allocs, n)
	}
}

// rawRecord builds a record body by hand from varints, for framing that
// AppendRecord would never write.
func rawRecord(fields ...any) []byte {
	var body []byte
	for _, f := range fields {
		switch f := f.(type) {
		case int:
			body = binary.AppendVarint(body, int64(f))
		case []byte:
			body = append(body, f...)
		case string:
			body = append(body, f...)
		}
	}
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func TestReadRecordsCorrupt(t *testing.T) {
	good := encodeRecords(sampleRecords()[:2])
	ok := rawRecord([]byte{0}, 0, 0, -1, 1, "v", 0)
	if err := ReadRecords(ok, 1, func(*Record) error { return nil }); err != nil {
		t.Fatalf("hand-built record: %v", err)
	}
	cases := map[string]struct {
		b []byte
		n int32
	}{
		"too few records":     {good, 3},
		"too many records":    {good, 1},
		"negative count":      {good, -1},
		"trailing byte":       {append(bytes.Clone(good), 0), 2},
		"truncated":           {good[:len(good)-1], 2},
		"empty":               {nil, 1},
		"length too long":     {append(binary.AppendVarint(nil, 100), ok[1:]...), 1},
		"length too short":    {append(binary.AppendVarint(nil, int64(len(ok)-2)), ok[1:]...), 1},
		"negative length":     {append(binary.AppendVarint(nil, -1), ok[1:]...), 1},
		"key length -2":       {rawRecord([]byte{0}, 0, 0, -2, 1, "v", 0), 1},
		"key past end":        {rawRecord([]byte{0}, 0, 0, 50, 1, "v", 0), 1},
		"value length -2":     {rawRecord([]byte{0}, 0, 0, -1, -2, 0), 1},
		"negative headers":    {rawRecord([]byte{0}, 0, 0, -1, -1, -1), 1},
		"header count high":   {rawRecord([]byte{0}, 0, 0, -1, -1, 5, 1, "k", -1), 1},
		"null header key":     {rawRecord([]byte{0}, 0, 0, -1, -1, 1, -1, -1), 1},
		"header value -2":     {rawRecord([]byte{0}, 0, 0, -1, -1, 1, 1, "k", -2), 1},
		"header key past end": {rawRecord([]byte{0}, 0, 0, -1, -1, 1, 9, "k", -1), 1},
		"bytes after headers": {rawRecord([]byte{0}, 0, 0, -1, -1, 0, "junk"), 1},
		// A varint of six bytes, legal in encoding/binary, is not a
		// Kafka varint; nor is a fifth byte carrying bits past 32.
		"six byte varint":   {rawRecord([]byte{0}, 0, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, -1, -1, 0), 1},
		"varint overflow":   {rawRecord([]byte{0}, 0, []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, -1, -1, 0), 1},
		"unterminated long": {rawRecord([]byte{0}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, -1, -1, 0), 1},
		"count beyond size": {ok, 1 << 30},
		"attributes only":   {[]byte{1, 0}, 1},
	}
	for name, c := range cases {
		err := ReadRecords(c.b, c.n, func(*Record) error { return nil })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	// A non-minimal varint within five bytes is accepted, as Java does.
	if err := ReadRecords(rawRecord([]byte{0}, 0, []byte{0x80, 0}, -1, -1, 0), 1, func(r *Record) error { return nil }); err != nil {
		t.Errorf("two byte zero: %v", err)
	}
}

// buildBatch wraps records into a magic 2 batch compressed with codec.
func buildBatch(t testing.TB, codec int8, recs []Record) []byte {
	t.Helper()
	records, err := Compress(codec, encodeRecords(recs))
	if err != nil {
		t.Fatal(err)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(codec),
		LastOffsetDelta:      int32(len(recs) - 1),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func TestBatchRecords(t *testing.T) {
	recs := sampleRecords()
	plain := encodeRecords(recs)
	for _, c := range allCodecs {
		batch := buildBatch(t, c, recs)
		records, n, err := BatchRecords(batch, len(plain))
		if err != nil || n != int32(len(recs)) || !bytes.Equal(records, plain) {
			t.Fatalf("%s: %d records, %v", Name(c), n, err)
		}
		if _, _, err := BatchRecords(batch, len(plain)-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: limit: %v", Name(c), err)
		}

		bad := bytes.Clone(batch)
		bad[16] = 1 // magic
		if _, _, err := BatchRecords(bad, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: magic 1: %v", Name(c), err)
		}
		if _, _, err := BatchRecords(append(bytes.Clone(batch), 0), 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: trailing byte: %v", Name(c), err)
		}
		if _, _, err := BatchRecords(batch[:len(batch)-1], 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: truncated: %v", Name(c), err)
		}
		if _, _, err := BatchRecords(batch[:30], 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: short: %v", Name(c), err)
		}
		bad = bytes.Clone(batch)
		binary.BigEndian.PutUint32(bad[57:], math.MaxUint32) // NumRecords -1
		if _, _, err := BatchRecords(bad, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: negative count: %v", Name(c), err)
		}
	}
	bad := buildBatch(t, None, recs)
	bad[22] |= 5 // codec 5
	if _, _, err := BatchRecords(bad, 1<<20); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("codec 5: %v", err)
	}

	// A batch compaction emptied: no records, no bytes, any codec.
	empty := buildBatch(t, None, nil)
	empty[22] |= byte(Zstd)
	if records, n, err := BatchRecords(empty, 0); err != nil || n != 0 || len(records) != 0 {
		t.Errorf("empty batch: %d, %v", n, err)
	}
}

// TestKgoProducedBatches produces through franz-go's kgo client, with each
// codec, to a kfake cluster, captures the record batches on the wire, and
// reads them back.
func TestKgoProducedBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kfake cluster")
	}
	codecs := map[int8]kgo.CompressionCodec{
		None:   kgo.NoCompression(),
		Gzip:   kgo.GzipCompression(),
		Snappy: kgo.SnappyCompression(),
		LZ4:    kgo.Lz4Compression(),
		Zstd:   kgo.ZstdCompression(),
	}
	for c, kc := range codecs {
		t.Run(Name(c), func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()

			var (
				mu      sync.Mutex
				batches [][]byte
			)
			cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				mu.Lock()
				defer mu.Unlock()
				for _, topic := range req.(*kmsg.ProduceRequest).Topics {
					for _, p := range topic.Partitions {
						batches = append(batches, bytes.Clone(p.Records))
					}
				}
				return nil, nil, false // observe only: kfake handles it
			})

			cl, err := kgo.NewClient(
				kgo.SeedBrokers(cluster.ListenAddrs()...),
				kgo.DefaultProduceTopic("t"),
				kgo.ProducerBatchCompression(kc),
				kgo.ProducerLinger(50*time.Millisecond),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()

			const n = 300
			want := make(map[string]*kgo.Record)
			for i := range n {
				r := &kgo.Record{
					Key:   []byte(fmt.Sprintf("key-%d", i)),
					Value: compressible(uint64(i), 50+i%200),
				}
				switch i % 3 {
				case 0:
					r.Key = nil
				case 1:
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "empty"}}
				}
				want[string(r.Value)] = r
				cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Error(err)
					}
				})
			}
			if err := cl.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}

			mu.Lock()
			defer mu.Unlock()
			seen := 0
			for _, raw := range batches {
				for len(raw) > 0 {
					length := int(binary.BigEndian.Uint32(raw[8:]))
					batch := raw[:12+length]
					raw = raw[12+length:]
					if got := int8(binary.BigEndian.Uint16(batch[21:]) & 7); got != c {
						t.Fatalf("batch compressed with %s", Name(got))
					}
					records, count, err := BatchRecords(batch, 1<<20)
					if err != nil {
						t.Fatal(err)
					}
					var rr RecordReader
					rr.Reset(records, count)
					for rr.Next() {
						r := rr.Record()
						w := want[string(r.Value)]
						if w == nil || !nullableEqual(r.Key, w.Key) || len(r.Headers) != len(w.Headers) {
							t.Fatalf("unexpected record %+v", r)
						}
						for i, h := range r.Headers {
							if h.Key != w.Headers[i].Key || !bytes.Equal(h.Value, w.Headers[i].Value) {
								t.Fatalf("header %d: %+v", i, h)
							}
						}
						seen++
					}
					if err := rr.Err(); err != nil {
						t.Fatal(err)
					}

					// The cleaner's path: rebuild the records
					// and recompress; the result reads the same.
					var rebuilt []byte
					ReadRecords(records, count, func(r *Record) error {
						rebuilt = AppendRecord(rebuilt, r)
						return nil
					})
					if !bytes.Equal(rebuilt, records) {
						t.Fatalf("re-encoding kgo's records changed them")
					}
					again, err := Compress(c, rebuilt)
					if err != nil {
						t.Fatal(err)
					}
					back, err := Decompress(c, again, len(rebuilt))
					if err != nil || !bytes.Equal(back, rebuilt) {
						t.Fatalf("recompressed: %v", err)
					}
				}
			}
			if seen != n {
				t.Fatalf("read %d records, produced %d", seen, n)
			}
			t.Logf("%d records in %d produce batches", seen, len(batches))
		})
	}
}
