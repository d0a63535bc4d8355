package interop

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Codecs are Kafka's record batch compression codecs, by the names the
// clients use for them.
var allCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

const (
	// numRecords records are produced to every topic.
	numRecords = 12
	// splitAt is the index of the first record that a read from a
	// timestamp must return: the timestamp the readers look up is the one
	// of record splitAt (or, for producers that cannot set timestamps, a
	// time between records splitAt-1 and splitAt), so that read must return
	// exactly records splitAt..numRecords-1, starting mid-way through the
	// log and, with compression, usually in the middle of a batch.
	splitAt = 7
)

// wireRecord is a record as it is handed to and read back from every
// client. encoding/json encodes the byte slices as base64, which is also
// how the Python and Node scripts exchange them.
type wireRecord struct {
	Offset    int64        `json:"offset"`
	Timestamp int64        `json:"timestamp"` // ms since the epoch; 0: not set by the producer
	Key       []byte       `json:"key"`
	Value     []byte       `json:"value"`
	Headers   []wireHeader `json:"headers"`
}

type wireHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// headerMode says what headers a producer can attach.
type headerMode int

const (
	headersPerRecord headerMode = iota // each record its own headers
	headersFixed                       // the same headers on every record (kcat -H)
)

// fixedHeaders are the headers of every record a headersFixed producer
// writes. kcat takes them as command-line arguments, so they hold no NUL.
var fixedHeaders = []wireHeader{
	{Key: "producer", Value: []byte("kcat")},
	{Key: "utf8-hdr", Value: []byte("ünïcødé ✓ 日本語")},
}

// makeRecords returns the deterministic records a producer writes to one
// topic: distinct keys, values with binary and unicode content of various
// sizes (one large and compressible, one incompressible), headers, and, when
// base is not 0, timestamps base, base+1s, ...
func makeRecords(base int64, hm headerMode) []wireRecord {
	rng := xorshift(0x9e3779b97f4a7c15)
	recs := make([]wireRecord, numRecords)
	for i := range recs {
		r := &recs[i]
		switch i {
		case 0:
			r.Key = []byte("key-00")
			r.Value = []byte("hello, eddy")
		case 1:
			r.Key = []byte("ключ-01-鍵-🔑")
			r.Value = []byte("Grüße, 世界! 🚀 — ελληνικά — עברית — \u200d\ufeff")
		case 2:
			r.Key = []byte{0x00, 0xff, 0x80, 'k', '0', '2', 0x7f, 0x00}
			r.Value = make([]byte, 256)
			for b := range r.Value {
				r.Value[b] = byte(b)
			}
		case 3:
			r.Key = []byte("key-03-large-compressible")
			r.Value = bytes.Repeat([]byte("eddy interop: a compressible value. "), 2000)
		case 4:
			r.Key = []byte("key-04-incompressible")
			r.Value = rng.bytes(3000)
		default:
			r.Key = []byte(fmt.Sprintf("key-%02d-ü", i))
			v := []byte(fmt.Sprintf("value-%02d\x00\x01\x02\r\n\t ☃ ", i))
			r.Value = append(v, rng.bytes(i*37)...)
		}
		if base != 0 {
			r.Timestamp = base + int64(i)*1000
		}
		switch hm {
		case headersFixed:
			r.Headers = fixedHeaders
		case headersPerRecord:
			if i == 0 {
				break // one record without headers
			}
			r.Headers = []wireHeader{
				{Key: "idx", Value: []byte(fmt.Sprintf("%02d", i))},
				{Key: "utf8-hdr", Value: []byte(fmt.Sprintf("ünïcødé ✓ 日本語 %d", i))},
			}
			if i%2 == 0 {
				r.Headers = append(r.Headers, wireHeader{Key: "bin-hdr", Value: []byte{0x01, 0x7f, 0x80, 0xff, byte(0x60 + i)}})
			}
		}
	}
	return recs
}

type xorshift uint64

func (x *xorshift) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		*x ^= *x << 13
		*x ^= *x >> 7
		*x ^= *x << 17
		b[i] = byte(*x >> 32)
	}
	return b
}

// expectation is what a read of one topic must return.
type expectation struct {
	records []wireRecord // all records of the topic, in produce order
	// splitTS is the timestamp the from-timestamp read starts at: records
	// before splitAt have smaller timestamps, the others equal or larger.
	splitTS int64
	// exactTS: the producer set the records' timestamps, so they must be
	// read back as they are. Otherwise they are only checked against splitTS.
	exactTS bool
}

// checkRead compares what a reader returned for one topic with what the
// producer wrote: it must be the records at offsets first..numRecords-1 (0
// from the beginning, splitAt from the timestamp), in order. The topic is
// fresh and has one partition, so the record at offset i is the i-th one
// produced.
func checkRead(t *testing.T, got []wireRecord, exp expectation, first int) {
	t.Helper()
	var wantOffs []wireRecord
	for i := first; i < len(exp.records); i++ {
		wantOffs = append(wantOffs, wireRecord{Offset: int64(i)})
	}
	if offsetsOf(got) != offsetsOf(wantOffs) {
		t.Errorf("read offsets %s, want %s", offsetsOf(got), offsetsOf(wantOffs))
	}
	for _, g := range got {
		if g.Offset < 0 || g.Offset >= int64(len(exp.records)) {
			continue
		}
		w := exp.records[g.Offset]
		var errs []string
		if !bytes.Equal(g.Key, w.Key) {
			errs = append(errs, "key "+diffBytes(g.Key, w.Key))
		}
		if !bytes.Equal(g.Value, w.Value) {
			errs = append(errs, "value "+diffBytes(g.Value, w.Value))
		}
		if !headersEqual(g.Headers, w.Headers) {
			errs = append(errs, fmt.Sprintf("headers %s, want %s", fmtHeaders(g.Headers), fmtHeaders(w.Headers)))
		}
		if exp.exactTS && g.Timestamp != w.Timestamp {
			errs = append(errs, fmt.Sprintf("timestamp %d, want %d", g.Timestamp, w.Timestamp))
		}
		if g.Offset < splitAt && g.Timestamp >= exp.splitTS {
			errs = append(errs, fmt.Sprintf("timestamp %d, want < %d", g.Timestamp, exp.splitTS))
		} else if g.Offset >= splitAt && g.Timestamp < exp.splitTS {
			errs = append(errs, fmt.Sprintf("timestamp %d, want >= %d", g.Timestamp, exp.splitTS))
		}
		if len(errs) > 0 {
			t.Errorf("record at offset %d (key %q): %s", g.Offset, w.Key, strings.Join(errs, "; "))
		}
	}
}

func offsetsOf(rs []wireRecord) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprint(r.Offset))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func headersEqual(a, b []wireHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func fmtHeaders(hs []wireHeader) string {
	var s []string
	for _, h := range hs {
		s = append(s, fmt.Sprintf("%q=%q", h.Key, h.Value))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// diffBytes describes how got differs from want without printing 70 KB.
func diffBytes(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	clip := func(b []byte) []byte {
		b = b[i:]
		if len(b) > 16 {
			b = b[:16]
		}
		return b
	}
	return fmt.Sprintf("differs at byte %d (len %d, want %d): got % x…, want % x…", i, len(got), len(want), clip(got), clip(want))
}
