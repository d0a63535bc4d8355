// Package broker is Eddy's Kafka protocol server: it listens for Kafka
// clients, decodes every request with kmsg, and serves it from durable
// partition logs (package storage).
//
// Each Kafka API lives in its own file named after it (produce.go,
// fetch.go, ...), registering in init the version range it implements;
// ApiVersions advertises exactly those ranges.
//
// A Broker can be embedded in any Go program or test:
//
//	b, err := broker.New(broker.WithDataDir(dir), broker.WithListen("127.0.0.1:0"))
//	...
//	defer b.Close()
//	addr := b.Addr()
package broker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/eddy-streaming/eddy/auth"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Option configures a Broker.
type Option interface{ apply(*config) }

type optFn func(*config)

func (f optFn) apply(c *config) { f(c) }

type config struct {
	dataDir            string
	listen             string
	advertised         string
	nodeID             int32
	fs                 vfs.FS
	logger             *slog.Logger
	settings           map[string]string
	maxInflightPerConn int
	maxRequestBytes    int64
	now                func() time.Time
	listeners          []Listener             // listeners.go
	authorizer         *auth.AuthorizerConfig // nil: no ACL authorization
}

// WithDataDir sets the directory holding all of the broker's data
// (default ./eddy-data).
func WithDataDir(dir string) Option { return optFn(func(c *config) { c.dataDir = dir }) }

// WithListen sets the address the Kafka listener binds (default
// 127.0.0.1:9092; port 0 picks a free port).
func WithListen(addr string) Option { return optFn(func(c *config) { c.listen = addr }) }

// WithAdvertisedAddr sets the host:port given to clients in Metadata
// (default: the listener's address).
func WithAdvertisedAddr(addr string) Option { return optFn(func(c *config) { c.advertised = addr }) }

// WithNodeID sets the broker's node id (default 0).
func WithNodeID(id int32) Option { return optFn(func(c *config) { c.nodeID = id }) }

// WithFS replaces the filesystem (tests inject faults with it).
func WithFS(fs vfs.FS) Option { return optFn(func(c *config) { c.fs = fs }) }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return optFn(func(c *config) { c.logger = l }) }

// WithConfig sets broker configs by their Kafka names, as a
// server.properties file would: auto.create.topics.enable, num.partitions,
// log.retention.ms, log.segment.bytes, log.flush.interval.messages, ...
// Unknown names are an error from New.
func WithConfig(kv map[string]string) Option {
	return optFn(func(c *config) {
		for k, v := range kv {
			c.settings[k] = v
		}
	})
}

// WithClock sets the clock used for timestamps and retention (tests).
func WithClock(now func() time.Time) Option { return optFn(func(c *config) { c.now = now }) }

// Broker is a single-node Kafka-compatible broker.
type Broker struct {
	cfg      config
	fs       vfs.FS
	logger   *slog.Logger
	settings *brokerSettings
	ln       net.Listener // the first listener's
	host     string       // the first listener's advertised address
	port     int32
	cluster  string

	listeners []*listener // listeners.go
	security              // security.go: credentials, authorizer, failure throttle

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	groups *groups      // the consumer group coordinator
	pids   *producerIDs // producer id allocation
	txns   *txns        // the transaction coordinator

	reqBudget   *budget // request bytes buffered across connections
	fetchBudget *budget // fetch response bytes held across connections
	metrics     *metrics

	// mu guards topics and the dynamic broker settings.
	mu struct {
		sync.RWMutex
		topics map[string]*topic
		byID   map[[16]byte]*topic
	}
	conns struct {
		sync.Mutex
		m map[*conn]struct{}
	}
	closed atomic.Bool
}

// New opens the data directory, recovers every partition, and starts
// listening. The broker serves until Close.
func New(opts ...Option) (*Broker, error) {
	cfg := config{
		dataDir:            "eddy-data",
		listen:             "127.0.0.1:9092",
		settings:           map[string]string{},
		maxInflightPerConn: 64,
		now:                time.Now,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.fs == nil {
		cfg.fs = vfs.OS()
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if err := splitSecuritySettings(&cfg); err != nil {
		return nil, err
	}
	static, err := normalizeBrokerConfig(cfg.settings)
	if err != nil {
		return nil, err
	}
	settings := &brokerSettings{static: static, dynamic: map[string]string{}}
	cfg.maxRequestBytes = settings.long("socket.request.max.bytes")
	budgetBytes := max(settings.long("queued.max.request.bytes"), cfg.maxRequestBytes)

	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg:         cfg,
		fs:          cfg.fs,
		logger:      cfg.logger.With("component", "broker"),
		settings:    settings,
		ctx:         ctx,
		cancel:      cancel,
		reqBudget:   newBudget(budgetBytes),
		fetchBudget: newBudget(max(settings.long("eddy.fetch.memory.bytes"), settings.long("fetch.max.bytes"))),
	}
	b.metrics = newMetrics(b)
	b.mu.topics = map[string]*topic{}
	b.mu.byID = map[[16]byte]*topic{}
	b.conns.m = map[*conn]struct{}{}

	if err := b.loadMeta(); err != nil {
		cancel()
		return nil, err
	}
	if err := b.loadTopics(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}
	if err := b.loadProducerIDs(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}
	if err := b.startGroups(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}
	if err := b.startTxns(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}
	if err := b.openSecurity(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}
	if err := b.bindListeners(); err != nil {
		b.closeLogs()
		cancel()
		return nil, err
	}

	b.wg.Add(2 + len(b.listeners))
	for _, l := range b.listeners {
		go b.acceptLoop(l)
		b.logger.Info("broker listening", "listener", l.Name, "protocol", l.Protocol, "addr", l.ln.Addr().String(), "advertised", net.JoinHostPort(l.host, strconv.Itoa(int(l.port))))
	}
	go b.retentionLoop()
	go b.cleanerLoop()
	b.logger.Info("broker started", "data_dir", cfg.dataDir, "cluster_id", b.cluster, "authorizer", b.authz != nil)
	return b, nil
}

// Addr returns the address the Kafka listener is bound to.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// ClusterID returns the cluster id stored in the data directory.
func (b *Broker) ClusterID() string { return b.cluster }

// Close stops accepting connections, closes every connection, and syncs and
// closes every partition log. After Close returns, everything acknowledged
// is on disk.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.cancel() // first, so acceptLoop sees a shutdown rather than an error
	b.closeListeners()
	b.conns.Lock()
	for c := range b.conns.m {
		c.close()
	}
	b.conns.Unlock()
	b.wg.Wait()
	err := b.closeLogs()
	b.logger.Info("broker stopped")
	return err
}

func (b *Broker) closeLogs() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var firstErr error
	for _, t := range b.mu.topics {
		for _, p := range t.parts {
			if err := p.log.Close(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (b *Broker) acceptLoop(l *listener) {
	defer b.wg.Done()
	var delay time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			b.logger.Error("accept", "err", err)
			return
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			c := b.trackConn(nc, l)
			if c == nil {
				nc.Close()
				return
			}
			defer b.untrackConn(c)
			if err := c.startTLS(); err != nil {
				c.logger.Info("closing connection", "listener", l.Name, "err", err)
				c.close()
				return
			}
			b.serveConnWith(c)
		}()
	}
}

func (b *Broker) trackConn(nc net.Conn, l *listener) *conn {
	b.conns.Lock()
	defer b.conns.Unlock()
	if b.closed.Load() {
		return nil
	}
	c := newConn(b, b.secureConn(nc, l))
	c.sec = newConnSecurity(l, nc)
	b.conns.m[c] = struct{}{}
	return c
}

func (b *Broker) untrackConn(c *conn) {
	b.conns.Lock()
	delete(b.conns.m, c)
	b.conns.Unlock()
}

func (b *Broker) retentionLoop() {
	defer b.wg.Done()
	for {
		interval := time.Duration(b.settings.long("log.retention.check.interval.ms")) * time.Millisecond
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(interval):
		}
		b.applyRetention()
	}
}

// cleanerLoop compacts the partitions of compacted topics, one at a time,
// in the background (log.cleaner.backoff.ms between passes).
func (b *Broker) cleanerLoop() {
	defer b.wg.Done()
	for {
		interval := time.Duration(b.settings.long("log.cleaner.backoff.ms")) * time.Millisecond
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(interval):
		}
		b.compactAll()
	}
}

// compactAll runs one cleaner pass over every compacted partition.
func (b *Broker) compactAll() {
	for _, p := range b.allPartitions() {
		if b.ctx.Err() != nil {
			return
		}
		cfg := b.topicConfigs(p.topic)
		if !b.settings.hasPolicy(cfg, "compact") {
			continue
		}
		if _, err := p.log.Compact(b.settings.compactionConfig(cfg)); err != nil {
			b.logger.Warn("compaction", "topic", p.topic.name, "partition", p.index, "err", err)
		}
	}
}

// applyRetention runs retention over every partition once.
func (b *Broker) applyRetention() {
	for _, p := range b.allPartitions() {
		if _, err := p.log.ApplyRetention(); err != nil {
			b.logger.Warn("retention", "topic", p.topic.name, "partition", p.index, "err", err)
		}
	}
}

// clusterMeta is stored in <data>/cluster.json.
type clusterMeta struct {
	ClusterID string `json:"cluster_id"`
	NodeID    int32  `json:"node_id"`
}

func (b *Broker) loadMeta() error {
	dir := b.cfg.dataDir
	if err := b.fs.MkdirAll(path.Join(dir, topicsDir)); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	raw, err := b.fs.ReadFile(path.Join(dir, "cluster.json"))
	if err == nil {
		var m clusterMeta
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("reading %s/cluster.json: %w", dir, err)
		}
		b.cluster = m.ClusterID
		return nil
	}
	if !vfs.IsNotExist(err) {
		return err
	}
	var id [16]byte
	rand.Read(id[:])
	b.cluster = encodeUUID(id)
	raw, _ = json.Marshal(clusterMeta{ClusterID: b.cluster, NodeID: b.cfg.nodeID})
	return vfs.WriteFileAtomic(b.fs, dir, "cluster.json", raw)
}

// budget is a byte semaphore bounding buffered request memory.
type budget struct {
	sem *semaphore.Weighted
	max int64
}

func newBudget(n int64) *budget { return &budget{sem: semaphore.NewWeighted(n), max: n} }

func (b *budget) acquire(ctx context.Context, n int64) error {
	return b.sem.Acquire(ctx, min(n, b.max))
}

func (b *budget) tryAcquire(n int64) bool { return b.sem.TryAcquire(min(n, b.max)) }

func (b *budget) release(n int64) {
	if n > 0 {
		b.sem.Release(min(n, b.max))
	}
}
