package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeFrame builds a request frame body (no size prefix) the way clients
// do, for fuzz seeds.
func encodeFrame(req kmsg.Request, version int16) []byte {
	req.SetVersion(version)
	buf := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(version))
	buf = binary.BigEndian.AppendUint32(buf, 42)
	buf = binary.BigEndian.AppendUint16(buf, 3)
	buf = append(buf, "fuz"...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	return req.AppendTo(buf)
}

func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for key, h := range handlers {
		for v := h.min; v <= h.max; v++ {
			req := kmsg.RequestForKey(key)
			seeds = append(seeds, encodeFrame(req, v))
		}
	}
	meta := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("topic")
	meta.Topics = append(meta.Topics, rt)
	seeds = append(seeds, encodeFrame(meta, 12), encodeFrame(meta, 4))
	prod := kmsg.NewPtrProduceRequest()
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = bytes.Repeat([]byte{1}, 70)
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	seeds = append(seeds, encodeFrame(prod, 3), encodeFrame(prod, 9), encodeFrame(prod, 11))
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.Partitions = append(ft.Partitions, kmsg.NewFetchRequestTopicPartition())
	fetch.Topics = append(fetch.Topics, ft)
	seeds = append(seeds, encodeFrame(fetch, 4), encodeFrame(fetch, 12), encodeFrame(fetch, 16))
	return seeds
}

// FuzzParseRequest feeds arbitrary frames to the request decoder. It must
// never panic, and whatever it accepts must survive a re-encode and decode
// unchanged (so the decoder and kmsg agree on what the bytes meant).
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hdr, req, _, err := parseRequest(data)
		if err != nil {
			return
		}
		if req.Key() != hdr.key || req.GetVersion() != hdr.version {
			t.Fatalf("decoded key/version %d/%d from header %d/%d", req.Key(), req.GetVersion(), hdr.key, hdr.version)
		}
		again := encodeFrame(req, hdr.version)
		_, req2, _, err := parseRequest(again)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if third := encodeFrame(req2, hdr.version); !bytes.Equal(third, again) {
			t.Fatalf("re-encoding is not stable")
		}
	})
}

func TestParseRequestSeeds(t *testing.T) {
	for i, s := range fuzzSeeds() {
		if _, _, _, err := parseRequest(s); err != nil {
			t.Errorf("seed %d does not parse: %v", i, err)
		}
	}
}
