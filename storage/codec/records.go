package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header is a record header: a non-null string key and a nullable value.
// It is kmsg.Header, so that records encode through kmsg without copying
// their headers.
type Header = kmsg.Header

// Record is one record of a magic 2 record batch, without its length
// prefix, which AppendRecord computes.
//
// Key and Value are nil for a null key or value, and non-nil (possibly
// empty) otherwise; a null header value is nil in the same way.
type Record struct {
	Attributes     int8
	TimestampDelta int64 // from the batch's FirstTimestamp, in milliseconds
	OffsetDelta    int32 // from the batch's base offset
	Key            []byte
	Value          []byte
	Headers        []Header
}

// minRecordLen is the size of the smallest record on the wire: a one byte
// length varint, then attributes, timestamp delta, offset delta, key
// length, value length and header count of one byte each.
const minRecordLen = 7

// RecordReader reads the records of a decompressed records section one at
// a time, without allocating per record:
//
//	var rr codec.RecordReader
//	rr.Reset(records, numRecords)
//	for rr.Next() {
//		r := rr.Record()
//		...
//	}
//	if err := rr.Err(); err != nil { ... }
//
// The framing is checked at least as strictly as the Java broker checks
// it: every length must lie within its record, each record must end
// exactly where its length says, a header key may not be null, and there
// must be exactly the announced number of records and nothing after them.
// Where Java is lenient we are not: a key, value or header value length
// may be -1 (null) but no lower, and varints may not run past 5 bytes (10
// for the timestamp delta) or overflow. Anything else stops the iteration
// with an error wrapping ErrCorrupt. The trailing-bytes check happens when Next
// runs out of records, so callers that stop early skip it.
//
// The zero RecordReader is empty; Reset it before use. A RecordReader is
// not safe for concurrent use.
type RecordReader struct {
	rest []byte // the records not yet read
	left int32  // how many records remain to be read
	idx  int32  // index of the record being read, for errors
	off  int    // offset of rest in the section, for errors
	rec  Record
	err  error
}

// Reset makes r read the n records in b, keeping the memory r allocated
// for headers. The records alias b, as the Record method describes.
func (r *RecordReader) Reset(b []byte, n int32) {
	headers := r.rec.Headers[:0]
	*r = RecordReader{rest: b, left: n}
	r.rec.Headers = headers
	switch {
	case n < 0:
		r.err = fmt.Errorf("%w: negative record count %d", ErrCorrupt, n)
	case int64(n) > int64(len(b)/minRecordLen):
		r.err = fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, n, len(b))
	}
}

// Next advances to the next record, returning false at the end of the
// records or on error (see Err).
func (r *RecordReader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.left == 0 {
		if len(r.rest) != 0 {
			r.err = fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(r.rest))
		}
		return false
	}
	before := len(r.rest)
	if err := r.parse(); err != nil {
		r.err = fmt.Errorf("%w: record %d at byte %d: %s", ErrCorrupt, r.idx, r.off, err)
		return false
	}
	r.off += before - len(r.rest)
	r.left--
	r.idx++
	return true
}

// Record returns the current record. It and everything it refers to (Key,
// Value, the Headers slice and the headers' keys and values) alias the
// section being read or r's own memory, and are overwritten by the next
// call to Next or Reset: copy what must outlive that. Header keys are
// strings that share the section's memory, so the section must not be
// modified while they are in use.
func (r *RecordReader) Record() *Record { return &r.rec }

// Err returns the error that stopped the iteration, if any.
func (r *RecordReader) Err() error { return r.err }

// parseError is a static description of a framing fault; Next adds where.
type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errLength     parseError = "bad record length"
	errTimestamp  parseError = "bad timestamp delta"
	errOffset     parseError = "bad offset delta"
	errKey        parseError = "bad key length"
	errValue      parseError = "bad value length"
	errNumHeaders parseError = "bad header count"
	errHeaderKey  parseError = "bad header key length"
	errHeaderVal  parseError = "bad header value length"
	errTrailing   parseError = "record length disagrees with its fields"
)

// parse reads the record at the front of r.rest into r.rec.
func (r *RecordReader) parse() error {
	b := r.rest
	length, n := varint32(b)
	if n <= 0 || length < minRecordLen-1 || int64(length) > int64(len(b)-n) {
		return errLength
	}
	body := b[n : n+int(length) : n+int(length)]
	r.rest = b[n+int(length):]

	rec := &r.rec
	rec.Attributes = int8(body[0])
	p := 1
	ts, m := varint64(body[p:])
	if m <= 0 {
		return errTimestamp
	}
	rec.TimestampDelta = ts
	p += m
	od, m := varint32(body[p:])
	if m <= 0 {
		return errOffset
	}
	rec.OffsetDelta = od
	p += m

	var ok bool
	if rec.Key, p, ok = nullableBytes(body, p); !ok {
		return errKey
	}
	if rec.Value, p, ok = nullableBytes(body, p); !ok {
		return errValue
	}

	nh, m := varint32(body[p:])
	// Every header takes at least two bytes (its two lengths).
	if m <= 0 || nh < 0 || int64(nh) > int64(len(body)-p-m)/2 {
		return errNumHeaders
	}
	p += m
	headers := rec.Headers[:0]
	for range nh {
		kl, m := varint32(body[p:])
		if m <= 0 || kl < 0 || int64(kl) > int64(len(body)-p-m) {
			return errHeaderKey
		}
		p += m
		var key string
		if kl > 0 {
			key = unsafe.String(&body[p], int(kl))
		}
		p += int(kl)
		var val []byte
		if val, p, ok = nullableBytes(body, p); !ok {
			return errHeaderVal
		}
		headers = append(headers, Header{Key: key, Value: val})
	}
	rec.Headers = headers
	if p != len(body) {
		return errTrailing
	}
	return nil
}

// nullableBytes reads a varint length and that many bytes at body[p:]; a
// length of -1 reads as nil. The bytes are capped, so that appending to
// them cannot overwrite what follows.
func nullableBytes(body []byte, p int) (v []byte, next int, ok bool) {
	l, m := varint32(body[p:])
	if m <= 0 || l < -1 || int64(l) > int64(len(body)-p-m) {
		return nil, p, false
	}
	p += m
	if l < 0 {
		return nil, p, true
	}
	end := p + int(l)
	return body[p:end:end], end, true
}

// varint32 decodes a zigzag varint of at most 5 bytes (Kafka's int32
// varint), returning n <= 0 if b does not start with one.
func varint32(b []byte) (int32, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	u, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || u > math.MaxUint32 {
		return 0, -1
	}
	return int32(uint32(u)>>1) ^ -int32(u&1), n
}

// varint64 decodes a zigzag varint of at most 10 bytes (Kafka's varlong).
func varint64(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	return binary.Varint(b)
}

// ReadRecords calls fn for each of the n records in the decompressed
// records section b, and checks the framing as RecordReader does. It stops
// at the first error, from the framing (wrapping ErrCorrupt) or from fn
// (returned as is). The *Record passed to fn is reused and aliases b, as
// RecordReader.Record describes: fn must copy whatever it keeps.
func ReadRecords(b []byte, n int32, fn func(*Record) error) error {
	r := readers.Get().(*RecordReader)
	defer func() {
		// Drop every reference into b before pooling.
		clear(r.rec.Headers[:cap(r.rec.Headers)])
		r.Reset(nil, 0)
		readers.Put(r)
	}()
	r.Reset(b, n)
	for r.Next() {
		if err := fn(&r.rec); err != nil {
			return err
		}
	}
	return r.Err()
}

// readers pools ReadRecords' readers, with the header room they grew.
var readers = sync.Pool{New: func() any { return new(RecordReader) }}

// AppendRecord appends r to dst in the wire format of a magic 2 record,
// length prefix included, and returns the extended slice. A nil Key,
// Value or header value is written as null.
func AppendRecord(dst []byte, r *Record) []byte {
	kr := kmsg.Record{
		Length:           int32(recordBodyLen(r)),
		Attributes:       r.Attributes,
		TimestampDelta:   int32(r.TimestampDelta),
		TimestampDelta64: r.TimestampDelta,
		OffsetDelta:      r.OffsetDelta,
		Key:              r.Key,
		Value:            r.Value,
		Headers:          r.Headers,
	}
	return kr.AppendTo(dst)
}

// RecordLen returns how many bytes AppendRecord appends for r.
func RecordLen(r *Record) int {
	n := recordBodyLen(r)
	return varintLen(int64(n)) + n
}

// recordBodyLen is the wire size of r after its length prefix.
func recordBodyLen(r *Record) int {
	n := 1 + varintLen(r.TimestampDelta) + varintLen(int64(r.OffsetDelta)) +
		nullableLen(r.Key) + nullableLen(r.Value) + varintLen(int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		n += varintLen(int64(len(h.Key))) + len(h.Key) + nullableLen(h.Value)
	}
	return n
}

func nullableLen(b []byte) int {
	if b == nil {
		return 1 // -1
	}
	return varintLen(int64(len(b))) + len(b)
}

// varintLen is the size of v as a zigzag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
