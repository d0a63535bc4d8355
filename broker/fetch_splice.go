package broker

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fetch response is mostly record batches read from the log. Rather than
// copying them into the encoded response, the write loop sends the response
// as a list of pieces: the parts kmsg encodes (header, topic and partition
// fields) and, between them, the fetched batches themselves.
//
// kmsg encodes the response with a marker in place of each partition's
// records; the marker and the length kmsg wrote before it are then replaced
// by the real length, followed by a reference to the records. The marker is
// 16 random bytes chosen at start, and its length prefix is checked too, so
// it cannot be mistaken for other bytes of the response; if a marker is not
// where it should be, the response is encoded by copying instead.

var spliceMarker = func() []byte {
	m := make([]byte, 16)
	crand.Read(m)
	return m
}()

// splicedFetch is an encoded fetch response in pieces, to be written in
// order: pieces alternate between encoded bytes (in enc) and records.
type splicedFetch struct {
	enc    []byte
	pieces [][]byte
}

// spliceFetch encodes p's fetch response into dst's memory, records by
// reference. ok is false when the response is not a fetch with records or
// the markers were not found; p.resp is then unchanged.
func spliceFetch(dst []byte, p *pending, pieces [][]byte) (sf splicedFetch, ok bool) {
	resp, isFetch := p.resp.(*kmsg.FetchResponse)
	if !isFetch || len(p.bufs) == 0 {
		return sf, false
	}
	var records [][]byte
	withRecords(resp, func(rp *kmsg.FetchResponseTopicPartition) {
		records = append(records, rp.RecordBatches)
		rp.RecordBatches = spliceMarker
	})
	restore := func() {
		i := 0
		withRecords(resp, func(rp *kmsg.FetchResponseTopicPartition) {
			rp.RecordBatches = records[i]
			i++
		})
	}
	encoded := appendResponse(dst[:0], p)
	flexible := resp.IsFlexible()
	var markerPrefix []byte
	if flexible {
		markerPrefix = kbin.AppendUvarint(nil, uint32(len(spliceMarker)+1))
	} else {
		markerPrefix = kbin.AppendInt32(nil, int32(len(spliceMarker)))
	}

	// Find every marker first, so that a miss leaves nothing half done.
	at := make([]int, len(records)) // where each marker's length prefix starts
	pos := 0
	for i := range records {
		m := bytes.Index(encoded[pos:], spliceMarker)
		if m < 0 {
			restore()
			return sf, false
		}
		m += pos
		start := m - len(markerPrefix)
		if start < pos || !bytes.Equal(encoded[start:m], markerPrefix) {
			restore()
			return sf, false
		}
		at[i] = start
		pos = m + len(spliceMarker)
	}

	// Rebuild: encoded bytes up to each prefix, the real prefix, the
	// records by reference, and the rest after the last marker. The
	// encoded parts go into the tail of the same buffer.
	sf.enc = encoded
	type span struct{ from, to int }
	var spans []span
	pos = 0
	total := 0
	for i, rec := range records {
		from := len(sf.enc)
		sf.enc = append(sf.enc, encoded[pos:at[i]]...)
		if flexible {
			sf.enc = kbin.AppendUvarint(sf.enc, uint32(len(rec)+1))
		} else {
			sf.enc = kbin.AppendInt32(sf.enc, int32(len(rec)))
		}
		spans = append(spans, span{from, len(sf.enc)})
		total += len(sf.enc) - from + len(rec)
		pos = at[i] + len(markerPrefix) + len(spliceMarker)
	}
	from := len(sf.enc)
	sf.enc = append(sf.enc, encoded[pos:]...)
	spans = append(spans, span{from, len(sf.enc)})
	total += len(sf.enc) - from
	// encoded may have moved while growing: slice only now.
	head := sf.enc[spans[0].from:]
	binary.BigEndian.PutUint32(head, uint32(total-4)) // the frame's size
	sf.pieces = pieces[:0]
	for i, sp := range spans {
		sf.pieces = append(sf.pieces, sf.enc[sp.from:sp.to])
		if i < len(records) {
			sf.pieces = append(sf.pieces, records[i])
		}
	}
	restore()
	return sf, true
}

// withRecords calls fn for each partition of resp that has records, in
// the order kmsg encodes them.
func withRecords(resp *kmsg.FetchResponse, fn func(*kmsg.FetchResponseTopicPartition)) {
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			if rp := &resp.Topics[ti].Partitions[pi]; len(rp.RecordBatches) > 0 {
				fn(rp)
			}
		}
	}
}
