package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// rawConn speaks the Kafka framing directly, for tests that need to send
// what no client library would.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, b *broker.Broker) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// encodeRequest frames req with a v1 or v2 request header.
func encodeRequest(req kmsg.Request, version int16, corr int32) []byte {
	req.SetVersion(version)
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(version))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, 4)
	buf = append(buf, "test"...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response frame and returns its correlation id and body.
func (c *rawConn) read() (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return 0, nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// expectClosed waits for the broker to close the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, err := c.nc.Read(b[:])
	if !errors.Is(err, io.EOF) && !isReset(err) {
		c.t.Fatalf("want the broker to close the connection, got %v", err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestMalformedInputClosesOnlyThatConnection sends broken frames on their
// own connections and checks each is closed while a real client on another
// connection keeps producing and consuming.
func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"socket.request.max.bytes": "1048576"}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good := newClient(t, b, kgo.DefaultProduceTopic("healthy"), kgo.AllowAutoTopicCreation())
	if err := good.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	meta := encodeRequest(kmsg.NewPtrMetadataRequest(), 9, 1)
	cases := map[string][]byte{
		"oversized":        binary.BigEndian.AppendUint32(nil, 64<<20),
		"negative size":    binary.BigEndian.AppendUint32(nil, 0xffffffff),
		"shorter than hdr": frame([]byte{0, 3, 0}),
		"unknown api key":  frame([]byte{0x7f, 0x00, 0, 1, 0, 0, 0, 1, 0, 0}),
		"unsupported ver":  frame([]byte{0, 3, 0x7f, 0, 0, 0, 0, 1, 0, 0}),
		"truncated body":   append(binary.BigEndian.AppendUint32(nil, uint32(len(meta)-4)), meta[4:len(meta)-3]...),
		"garbage body":     frame(append(append([]byte{}, meta[4:16]...), bytes.Repeat([]byte{0xff}, 40)...)),
		"bad client id":    frame([]byte{0, 3, 0, 9, 0, 0, 0, 1, 0x7f, 0xff}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, b)
			c.write(data)
			if name == "truncated body" {
				// The frame is incomplete: the broker waits for the rest;
				// the client giving up must not disturb anyone else.
				c.nc.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			if err := good.ProduceSync(ctx, &kgo.Record{Value: []byte(name)}).FirstErr(); err != nil {
				t.Fatalf("healthy client after %s: %v", name, err)
			}
		})
	}
}

// TestApiVersionsUnknownVersion checks KIP-511: a version the broker does
// not know gets a v0 answer with UNSUPPORTED_VERSION and the real ranges.
func TestApiVersionsUnknownVersion(t *testing.T) {
	b := testbroker.Start(t)
	c := dialRaw(t, b)
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	c.write(encodeRequest(req, 99, 7))
	corr, body, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	if corr != 7 {
		t.Fatalf("correlation id %d, want 7", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding v0 answer: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	found := false
	for _, k := range resp.ApiKeys {
		if k.ApiKey == kmsg.ApiVersions.Int16() && k.MinVersion == 0 && k.MaxVersion >= 3 {
			found = true
		}
	}
	if !found {
		t.Fatalf("ApiVersions range missing from %+v", resp.ApiKeys)
	}
	// The connection stays usable: a supported version now works.
	c.write(encodeRequest(req, 3, 8))
	if corr, _, err := c.read(); err != nil || corr != 8 {
		t.Fatalf("second request: corr %d, err %v", corr, err)
	}
}

// TestResponsesInOrderAndAcksZero pipelines a long-polling fetch, an acks=0
// produce and a metadata request on one connection: the fetch (answered
// last) must come back first, the produce not at all, then the metadata.
func TestResponsesInOrderAndAcksZero(t *testing.T) {
	b := testbroker.Start(t)
	createTopic(t, kadm.NewClient(newClient(t, b)), "order", 1, nil)
	c := dialRaw(t, b)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 300, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "order"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)

	prod := kmsg.NewPtrProduceRequest()
	prod.Acks = 0
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "order"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = buildBatch(t, []byte("acks0"))
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)

	var all []byte
	all = append(all, encodeRequest(fetch, 11, 1)...)
	all = append(all, encodeRequest(prod, 9, 2)...)
	all = append(all, encodeRequest(kmsg.NewPtrMetadataRequest(), 12, 3)...)
	c.write(all)
	var got []int32
	for i := 0; i < 2; i++ {
		corr, _, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, corr)
	}
	if got[0] != 1 || got[1] != 3 {
		t.Fatalf("responses came as %v, want [1 3] (fetch, then metadata; acks=0 produce unanswered)", got)
	}
	// The acks=0 record was written.
	fetch.MaxWaitMillis = 0
	c.write(encodeRequest(fetch, 11, 4))
	_, body, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	fr := kmsg.NewPtrFetchResponse()
	fr.Version = 11
	if err := fr.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if hw := fr.Topics[0].Partitions[0].HighWatermark; hw != 1 {
		t.Fatalf("high watermark %d after the acks=0 produce, want 1", hw)
	}
}

// buildBatch encodes an uncompressed record batch with one record per value.
func buildBatch(t testing.TB, values ...[]byte) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	var recs []byte
	for i, v := range values {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Value = v
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.NewRecordBatch()
	rb.Magic = 2
	rb.LastOffsetDelta = int32(len(values) - 1)
	rb.FirstTimestamp, rb.MaxTimestamp = now, now
	rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = -1, -1, -1
	rb.NumRecords = int32(len(values))
	rb.Records = recs
	return finishBatch(rb)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// finishBatch encodes rb, filling in its Length and CRC-32C.
func finishBatch(rb kmsg.RecordBatch) []byte {
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}
