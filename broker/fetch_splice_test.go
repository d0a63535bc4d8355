package broker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSpliceFetchMatchesEncoding: for every Fetch version, the pieces of a
// spliced response are byte for byte the response kmsg encodes with the
// records copied in, and the response is left as it was.
func TestSpliceFetchMatchesEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int16(4); v <= 16; v++ {
		for _, sizes := range [][]int{{100}, {0, 3000, 0, 1}, {70000, 0}, {1, 2, 3, 130, 16, 200000}} {
			t.Run(fmt.Sprintf("v%d/%v", v, sizes), func(t *testing.T) {
				resp := kmsg.NewPtrFetchResponse()
				var bufs [][]byte
				for i, n := range sizes {
					if i%2 == 0 {
						rt := kmsg.NewFetchResponseTopic()
						rt.Topic = fmt.Sprintf("topic-%d", i)
						rt.TopicID[0] = byte(i + 1)
						resp.Topics = append(resp.Topics, rt)
					}
					rp := kmsg.NewFetchResponseTopicPartition()
					rp.Partition = int32(i)
					rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = 1000+int64(n), 999, 3
					rp.RecordBatches = []byte{}
					if i == 1 {
						at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
						at.ProducerID, at.FirstOffset = 7, 8
						rp.AbortedTransactions = append(rp.AbortedTransactions, at)
					}
					if n > 0 {
						b := getBuf(n)
						for j := range b {
							b[j] = byte(rng.Uint32())
						}
						rp.RecordBatches = b
						bufs = append(bufs, b)
					}
					last := &resp.Topics[len(resp.Topics)-1]
					last.Partitions = append(last.Partitions, rp)
				}
				p := &pending{key: kmsg.Fetch.Int16(), version: v, corr: 42, flexible: v >= 12, resp: resp, bufs: bufs}
				want := appendResponse(nil, p)
				sf, ok := spliceFetch(nil, p, nil)
				if !ok {
					t.Fatal("not spliced")
				}
				if got := bytes.Join(sf.pieces, nil); !bytes.Equal(got, want) {
					t.Fatalf("spliced response (%d bytes) differs from the encoded one (%d bytes)", len(got), len(want))
				}
				if again := appendResponse(nil, p); !bytes.Equal(again, want) {
					t.Fatal("response changed by splicing")
				}
				if len(bufs) > 0 && len(sf.pieces) != 2*len(bufs)+1 {
					t.Fatalf("%d pieces for %d record sets", len(sf.pieces), len(bufs))
				}
			})
		}
	}
}

// TestSpliceFetchFallsBack: responses without records, or whose records
// happen to hold the marker's bytes, are not spliced (the caller then
// copies), and nothing about them changes.
func TestSpliceFetchFallsBack(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = "t"
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = []byte{}
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	p := &pending{key: kmsg.Fetch.Int16(), version: 11, resp: resp}
	if _, ok := spliceFetch(nil, p, nil); ok {
		t.Fatal("a response without records was spliced")
	}
	// A topic name cannot hold the marker (it is not a legal name), but
	// if an encoded field did, the prefix check or order would catch it:
	// here the first partition's records are preceded by a field holding
	// the marker with a plausible prefix.
	p.bufs = [][]byte{{1}}
	resp.Topics[0].Partitions[0].RecordBatches = []byte{1, 2, 3}
	resp.Topics[0].Topic = string(append([]byte{0, 16}, spliceMarker...))
	want := appendResponse(nil, p)
	sf, ok := spliceFetch(nil, p, nil)
	if ok && !bytes.Equal(bytes.Join(sf.pieces, nil), want) {
		t.Fatal("spliced a response whose marker was ambiguous into the wrong bytes")
	}
	if !bytes.Equal(appendResponse(nil, p), want) {
		t.Fatal("response changed")
	}
}

// BenchmarkFetchResponseEncode compares encoding a 1 MiB fetch response
// (four partitions of 256 KiB) by copying the records into the response
// buffer with splicing them in by reference. One op is one response.
func BenchmarkFetchResponseEncode(b *testing.B) {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = "bench"
	var bufs [][]byte
	for i := range 4 {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = int32(i)
		rp.RecordBatches = make([]byte, 256<<10)
		bufs = append(bufs, rp.RecordBatches)
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	p := &pending{key: kmsg.Fetch.Int16(), version: 11, resp: resp, bufs: bufs}
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		var buf []byte
		for b.Loop() {
			buf = appendResponse(buf[:0], p)
		}
	})
	b.Run("splice", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		var buf []byte
		var pieces [][]byte
		for b.Loop() {
			sf, ok := spliceFetch(buf, p, pieces)
			if !ok {
				b.Fatal("not spliced")
			}
			buf, pieces = sf.enc, sf.pieces
		}
	})
}
