package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A handler serves one Kafka API. Handlers are registered by the file named
// after the API (produce.go, fetch.go, ...) in init, with the version range
// they implement; ApiVersions advertises exactly these ranges.
//
// A handler either answers at once by returning a response, or returns nil
// and later calls p.finish from another goroutine (produce waiting for
// fsync, fetch long-polling). Responses leave the connection in request
// order regardless.
type handler struct {
	key      int16
	min, max int16
	fn       func(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error)
	// frameDone: once fn returns, nothing refers to the request frame any
	// more (not even a goroutine fn started), so its buffer is recycled.
	frameDone bool
}

var handlers = map[int16]*handler{}

func register(key, minV, maxV int16, fn func(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error)) {
	if _, dup := handlers[key]; dup {
		panic(fmt.Sprintf("broker: API key %d registered twice", key))
	}
	handlers[key] = &handler{key: key, min: minV, max: maxV, fn: fn}
}

// pending is one request's place in its connection's response queue.
type pending struct {
	start    time.Time // when the request was decoded (latency metrics)
	key      int16
	version  int16
	corr     int32
	flexible bool
	size     int64 // request bytes, released from the broker's budget when answered
	// respHeld is fetch-response memory held from the broker's fetch budget,
	// released once the response is written; -1 once the write loop is
	// done with the request (see hold).
	respHeld atomic.Int64
	// bufs are pooled buffers the response's fields point into (fetched
	// record batches); set before finish, recycled by the write loop once
	// the response is encoded.
	bufs [][]byte

	once  sync.Once
	ready chan struct{}
	resp  kmsg.Response // nil: send nothing (acks=0 produce)
	err   error         // non-nil: close the connection

	fixup      func(kmsg.Response) // set by authorization: adds refused entries to resp (authorize.go)
	closeAfter bool                // close the connection once resp is sent (failed authentication)
}

// hold records n bytes of fetch memory for the response, to be released
// when it is written; if the write loop has already given up on the
// request, the memory is released at once.
func (p *pending) hold(c *conn, n int64) {
	if n > 0 && !p.respHeld.CompareAndSwap(0, n) {
		c.releaseFetch(n)
	}
}

func (p *pending) finish(resp kmsg.Response, err error) {
	p.once.Do(func() {
		if p.fixup != nil && resp != nil {
			p.fixup(resp)
		}
		p.resp, p.err = resp, err
		close(p.ready)
	})
}

// errNoResponse is returned by handlers that answer nothing (acks=0).
var errNoResponse = errors.New("no response")

// conn is one client connection: a read loop that decodes requests and
// dispatches them in order, and a write loop that sends their responses in
// the same order.
type conn struct {
	b      *Broker
	nc     net.Conn
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	queue    chan *pending // responses in request order; bounded for back-pressure
	fetchMem *budget       // fetch response bytes this connection may hold
	clientID string

	softwareName, softwareVersion string // from ApiVersions v3+
	closed                        atomic.Bool

	sec connSecurity // listener, principal, SASL state (security.go)
}

func newConn(b *Broker, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(b.ctx)
	return &conn{
		b:        b,
		nc:       nc,
		logger:   b.logger.With("remote", nc.RemoteAddr().String()),
		ctx:      ctx,
		cancel:   cancel,
		queue:    make(chan *pending, b.cfg.maxInflightPerConn),
		fetchMem: newBudget(b.settings.long("fetch.max.bytes")),
	}
}

// serveConnWith runs the connection until it ends.
func (b *Broker) serveConnWith(c *conn) {
	b.metrics.connections.Add(1)
	defer b.metrics.connections.Add(-1)
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	c.cancel() // abandon requests still waiting; responses already ready may still go out
	close(c.queue)
	if err != nil && !errors.Is(err, io.EOF) && !c.closed.Load() && b.ctx.Err() == nil {
		c.logger.Info("closing connection", "client_id", c.clientID, "err", err)
	}
	<-writeDone
	c.close()
}

func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.cancel()
		c.nc.Close()
	}
}

// readLoop reads framed requests until the connection ends or a request is
// malformed; either way only this connection is closed.
func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if minSize, maxSize := c.frameLimits(); int64(size) < minSize || int64(size) > maxSize {
			return fmt.Errorf("request size %d outside [%d, %d] (socket.request.max.bytes)", size, minSize, maxSize)
		}
		// Memory is bounded broker-wide: wait for room in the request budget
		// before buffering the request (queued.max.request.bytes).
		if err := c.b.reqBudget.acquire(c.ctx, int64(size)); err != nil {
			return err
		}
		buf := getBuf(int(size))
		if _, err := io.ReadFull(br, buf); err != nil {
			putBuf(buf)
			c.b.reqBudget.release(int64(size))
			return err
		}
		raw := c.sec.rawSASL // a bare SASL token has no API key (security.go)
		p, err := c.dispatch(buf)
		if !raw {
			if h := handlers[int16(binary.BigEndian.Uint16(buf))]; h != nil && h.frameDone {
				putBuf(buf)
			}
		}
		if err != nil {
			c.b.reqBudget.release(int64(size))
			return err
		}
		p.size = int64(size)
		select {
		case c.queue <- p:
		case <-c.ctx.Done():
			c.b.reqBudget.release(int64(size))
			return c.ctx.Err()
		}
	}
}

// requestHeader is the decoded header of one request frame.
type requestHeader struct {
	key      int16
	version  int16
	corr     int32
	clientID *string
	flexible bool
}

// errUnsupportedApiVersions marks an ApiVersions request of a version we do
// not know: it is answered (KIP-511), not refused.
var errUnsupportedApiVersions = errors.New("unsupported ApiVersions version")

// parseRequest decodes one request frame (the bytes after the size
// prefix): the header, then the body with kmsg for the version given. Only
// registered API keys and versions are decoded; anything malformed is an
// error, on which the caller closes the connection.
func parseRequest(buf []byte) (requestHeader, kmsg.Request, *handler, error) {
	var hdr requestHeader
	if len(buf) < 8 {
		return hdr, nil, nil, fmt.Errorf("request of %d bytes is shorter than a header", len(buf))
	}
	hdr.key = int16(binary.BigEndian.Uint16(buf[0:]))
	hdr.version = int16(binary.BigEndian.Uint16(buf[2:]))
	hdr.corr = int32(binary.BigEndian.Uint32(buf[4:]))
	r := kbin.Reader{Src: buf[8:]}
	hdr.clientID = r.NullableString()
	if !r.Ok() {
		return hdr, nil, nil, fmt.Errorf("truncated client id in request header for API key %d", hdr.key)
	}
	h := handlers[hdr.key]
	req := kmsg.RequestForKey(hdr.key)
	if h == nil || req == nil {
		return hdr, nil, nil, fmt.Errorf("unknown or unsupported API key %d", hdr.key)
	}
	if hdr.version < h.min || hdr.version > h.max {
		if hdr.key == kmsg.ApiVersions.Int16() {
			return hdr, nil, h, errUnsupportedApiVersions
		}
		return hdr, nil, nil, fmt.Errorf("unsupported version %d of API key %d (%s), supported %d-%d", hdr.version, hdr.key, kmsg.NameForKey(hdr.key), h.min, h.max)
	}
	req.SetVersion(hdr.version)
	hdr.flexible = req.IsFlexible()
	if hdr.flexible {
		skipTags(&r)
	}
	if !r.Ok() {
		return hdr, nil, nil, fmt.Errorf("truncated request header for API key %d", hdr.key)
	}
	if err := req.ReadFrom(r.Src); err != nil {
		return hdr, nil, nil, fmt.Errorf("decoding %s v%d: %w", kmsg.NameForKey(hdr.key), hdr.version, err)
	}
	return hdr, req, h, nil
}

// dispatch decodes one request and starts its handler.
func (c *conn) dispatch(buf []byte) (*pending, error) {
	if c.sec.rawSASL {
		return c.dispatchRawSASL(buf)
	}
	hdr, req, h, err := parseRequest(buf)
	if hdr.clientID != nil && c.clientID == "" {
		c.clientID = *hdr.clientID
	}
	p := &pending{start: time.Now(), key: hdr.key, version: hdr.version, corr: hdr.corr, flexible: hdr.flexible, ready: make(chan struct{})}
	if errors.Is(err, errUnsupportedApiVersions) {
		// KIP-511: answer an unknown ApiVersions version in the v0 format
		// with UNSUPPORTED_VERSION and our ranges, so the client can retry
		// with a version we know.
		p.version = 0
		p.finish(apiVersionsResponse(0, unsupportedVersionCode), nil)
		c.b.metrics.request(hdr.key)
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := c.admit(hdr.key); err != nil {
		return nil, err
	}
	c.b.metrics.request(hdr.key)
	resp, err := c.safeHandle(h, req, p)
	if err != nil {
		if errors.Is(err, errNoResponse) {
			p.finish(nil, nil)
			return p, nil
		}
		return nil, err
	}
	if resp != nil {
		p.finish(resp, nil)
	}
	return p, nil
}

// safeHandle turns a handler panic into a closed connection rather than a
// dead broker.
func (c *conn) safeHandle(h *handler, req kmsg.Request, p *pending) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("handler panic", "api", kmsg.NameForKey(h.key), "panic", r)
			resp, err = nil, fmt.Errorf("internal error handling %s", kmsg.NameForKey(h.key))
		}
	}()
	return c.serveAuthorized(h, req, p)
}

func skipTags(r *kbin.Reader) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Ok(); i++ {
		r.Uvarint() // tag
		l := r.Uvarint()
		r.Span(int(l))
	}
}

// writeLoop sends responses in request order. It flushes whenever it
// would otherwise wait: before blocking on a response that is not ready yet
// (a long-polling fetch) and when the queue is empty. Every asynchronous
// handler finishes promptly once the connection's context is cancelled, so
// waiting on p.ready always ends.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	var pieces [][]byte
	for p := range c.queue {
		select {
		case <-p.ready:
		default:
			if bw.Flush() != nil {
				c.close()
			}
			select {
			case <-p.ready:
			case <-c.ctx.Done():
				// The connection is gone; a parked request (a JoinGroup
				// waiting for its rebalance) may be answered much later,
				// to nobody.
				c.b.reqBudget.release(p.size)
				if held := p.respHeld.Swap(-1); held > 0 {
					c.releaseFetch(held)
				}
				continue
			}
		}
		c.b.reqBudget.release(p.size)
		c.b.metrics.answered(p.key, time.Since(p.start))
		held := max(p.respHeld.Swap(-1), 0)
		if c.closed.Load() || p.resp == nil || p.err != nil {
			c.releaseFetch(held)
			p.recycle()
			if p.err != nil && !c.closed.Load() {
				c.logger.Info("closing connection", "client_id", c.clientID, "err", p.err)
				c.close()
			}
			continue
		}
		var err error
		if sf, ok := spliceFetch(buf, p, pieces); ok {
			// Fetched records are written from where they were read
			// (fetch_splice.go), not copied into buf first.
			buf, pieces = sf.enc, sf.pieces
			for _, piece := range pieces {
				if _, err = bw.Write(piece); err != nil {
					break
				}
			}
			clear(pieces)
		} else {
			if need := p.sizeHint(); need > cap(buf) {
				putBuf(buf)
				buf = getBuf(need)
			}
			buf = appendResponse(buf[:0], p)
			_, err = bw.Write(buf)
		}
		p.resp = nil
		p.recycle()
		c.releaseFetch(held)
		if err == nil && (len(c.queue) == 0 || p.closeAfter) {
			err = bw.Flush()
		}
		if p.closeAfter {
			c.close()
		}
		if err != nil {
			c.close()
		}
		if cap(buf) > 1<<20 {
			// Don't pin a large fetch response's buffer to the connection.
			putBuf(buf)
			buf = nil
		}
	}
	bw.Flush()
}

// sizeHint is roughly how many bytes the encoded response takes when it
// carries record batches (0 when it does not: small responses grow the
// buffer as they need).
func (p *pending) sizeHint() int {
	n := 0
	for _, b := range p.bufs {
		n += len(b)
	}
	if n == 0 {
		return 0
	}
	return n + 64<<10 // room for the topic and partition fields
}

// recycle gives back the pooled buffers the response pointed into.
func (p *pending) recycle() {
	for _, b := range p.bufs {
		putBuf(b)
	}
	p.bufs = nil
}

func appendResponse(dst []byte, p *pending) []byte {
	if p.key == rawSASLKey {
		return appendRawSASL(dst, p)
	}
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.corr))
	// ApiVersions responses always use header v0, even when flexible.
	if p.flexible && p.key != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0) // no tagged fields
	}
	p.resp.SetVersion(p.version)
	dst = p.resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}
