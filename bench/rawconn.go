package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is one Kafka-protocol connection of the raw client: requests are
// framed with kmsg, and a caller may pipeline them, sending several before
// reading the responses, which arrive in request order.
//
// Writing (send) and reading (recv) may run in different goroutines; each
// side must be used by one goroutine at a time.
type rawConn struct {
	nc     net.Conn
	br     *bufio.Reader
	format *kmsg.RequestFormatter
	corr   int32
	wbuf   []byte
	rbuf   []byte
	// versions maps each API key the broker supports to its highest
	// version, from ApiVersions.
	versions map[int16]int16
}

// dialRaw connects to addr and asks the broker which API versions it
// supports.
func dialRaw(ctx context.Context, addr string) (*rawConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &rawConn{
		nc:     nc,
		br:     bufio.NewReaderSize(nc, 256<<10),
		format: kmsg.NewRequestFormatter(kmsg.FormatterClientID("eddy-bench-raw")),
	}
	if err := c.apiVersions(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("ApiVersions to %s: %w", addr, err)
	}
	return c, nil
}

func (c *rawConn) Close() error { return c.nc.Close() }

// apiVersions fills c.versions, asking with v3 first and falling back to v0
// if the broker does not know v3 (KIP-511: it then answers in v0).
func (c *rawConn) apiVersions(ctx context.Context) error {
	for _, v := range []int16{3, 0} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName = "eddy-bench"
		req.ClientSoftwareVersion = "1"
		resp, err := c.roundTrip(ctx, req)
		if err != nil {
			if v != 0 {
				continue // possibly answered in the v0 format
			}
			return err
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if r.ErrorCode == kerr.UnsupportedVersion.Code && v != 0 {
			continue
		}
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return err
		}
		c.versions = make(map[int16]int16, len(r.ApiKeys))
		for _, k := range r.ApiKeys {
			c.versions[k.ApiKey] = k.MaxVersion
		}
		return nil
	}
	return errors.New("no usable ApiVersions version")
}

// version returns the highest version of API key that both the broker and
// we support (at most ours), failing if it is below lowest.
func (c *rawConn) version(key kmsg.Key, ours, lowest int16) (int16, error) {
	theirs, ok := c.versions[key.Int16()]
	if !ok {
		return 0, fmt.Errorf("broker does not support %s", kmsg.NameForKey(key.Int16()))
	}
	v := min(ours, theirs)
	if v < lowest {
		return 0, fmt.Errorf("broker supports %s up to v%d, the raw client needs v%d", kmsg.NameForKey(key.Int16()), theirs, lowest)
	}
	return v, nil
}

// send writes one request and returns its correlation id. The request's
// version must already be set.
func (c *rawConn) send(req kmsg.Request) (int32, error) {
	corr := c.corr
	c.corr++
	c.wbuf = c.format.AppendRequest(c.wbuf[:0], req, corr)
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 16<<20 {
		c.wbuf = nil
	}
	return corr, err
}

// recv reads the next response frame, checks that it answers request corr,
// and decodes it into resp (whose version must be the request's). The
// decoded response may alias the connection's read buffer until the next
// recv.
func (c *rawConn) recv(corr int32, resp kmsg.Response) error {
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > 1<<30 {
		return fmt.Errorf("response frame of %d bytes", n)
	}
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	buf := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return err
	}
	if got := int32(binary.BigEndian.Uint32(buf)); got != corr {
		return fmt.Errorf("response correlation id %d, expected %d", got, corr)
	}
	body := buf[4:]
	// Flexible responses have a tagged-field section ending the header,
	// except ApiVersions, whose response header is always v0.
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		var err error
		if body, err = skipTaggedFields(body); err != nil {
			return err
		}
	}
	read := resp.ReadFrom
	if u, ok := resp.(interface{ UnsafeReadFrom([]byte) error }); ok {
		read = u.UnsafeReadFrom // no copies of strings; bytes alias body either way
	}
	if err := read(body); err != nil {
		return fmt.Errorf("decoding %s v%d response: %w", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	if cap(c.rbuf) > 64<<20 {
		c.rbuf = nil // keep the buffer, not a huge one, across responses
	}
	return nil
}

// skipTaggedFields skips a tagged-field section (uvarint count, then tag,
// length and data of each field).
func skipTaggedFields(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("malformed tagged fields")
	}
	b = b[l:]
	for range n {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errors.New("malformed tagged fields")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size {
			return nil, errors.New("malformed tagged fields")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// roundTrip sends req and waits for its response, giving up when ctx is
// done (which leaves the connection unusable).
func (c *rawConn) roundTrip(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	corr, err := c.send(req)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	resp := req.ResponseKind()
	if err := c.recv(corr, resp); err != nil {
		return nil, ctxErr(ctx, err)
	}
	return resp, nil
}

// ctxErr prefers ctx's error to the I/O error its cancellation caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// topicLayout is what Metadata says about a topic: its partitions and the
// address of each partition's leader.
type topicLayout struct {
	partitions []int32
	leader     map[int32]string // partition -> host:port
}

// byLeader groups the partitions by leader address, in a stable order.
func (l *topicLayout) byLeader() (addrs []string, parts map[string][]int32) {
	parts = make(map[string][]int32)
	for _, p := range l.partitions {
		a := l.leader[p]
		if _, ok := parts[a]; !ok {
			addrs = append(addrs, a)
		}
		parts[a] = append(parts[a], p)
	}
	return addrs, parts
}

// rawMetadata asks the first reachable seed broker for topic's layout,
// retrying for a few seconds while partitions have no leader yet (as right
// after the topic is created).
func rawMetadata(ctx context.Context, seeds []string, topic string) (*topicLayout, error) {
	var lastErr error
	for _, seed := range seeds {
		c, err := dialRaw(ctx, seed)
		if err != nil {
			lastErr = err
			continue
		}
		l, err := c.metadataRetrying(ctx, topic)
		c.Close()
		return l, err
	}
	return nil, fmt.Errorf("no seed broker reachable: %w", lastErr)
}

func (c *rawConn) metadataRetrying(ctx context.Context, topic string) (*topicLayout, error) {
	for attempt := 0; ; attempt++ {
		l, err := c.metadata(ctx, topic)
		if err == nil || attempt == 50 || !retriable(err) {
			return l, err
		}
		if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
			return nil, ctx.Err()
		}
	}
}

// retriable reports whether a metadata error is worth another try.
func retriable(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke.Retriable
}

func (c *rawConn) metadata(ctx context.Context, topic string) (*topicLayout, error) {
	v, err := c.version(kmsg.Metadata, 12, 1)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = v
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	r := resp.(*kmsg.MetadataResponse)
	hosts := make(map[int32]string, len(r.Brokers))
	for _, b := range r.Brokers {
		hosts[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	for _, t := range r.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		l := &topicLayout{leader: make(map[int32]string)}
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("metadata of %s partition %d: %w", topic, p.Partition, err)
			}
			addr, ok := hosts[p.Leader]
			if !ok {
				return nil, fmt.Errorf("metadata of %s partition %d: %w", topic, p.Partition, kerr.LeaderNotAvailable)
			}
			l.partitions = append(l.partitions, p.Partition)
			l.leader[p.Partition] = addr
		}
		if len(l.partitions) == 0 {
			return nil, fmt.Errorf("metadata of %s: no partitions: %w", topic, kerr.LeaderNotAvailable)
		}
		return l, nil
	}
	return nil, fmt.Errorf("metadata of %s: %w", topic, kerr.UnknownTopicOrPartition)
}
