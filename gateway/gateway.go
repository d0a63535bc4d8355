// Package gateway is Eddy's HTTP gateway: produce and read records as
// JSON, tail a topic over Server-Sent Events, administer topics and
// groups, check health, scrape Prometheus metrics, and evaluate alert
// rules. `eddy serve --http` serves it next to the broker; the web console
// (package console) is mounted on the same server.
//
// The gateway is a Kafka client of the broker it fronts (franz-go's kgo and
// kadm over loopback), not a second way into the storage: every record it
// writes goes through the same validation, idempotence, quotas and, later,
// authorization as any client's, and it can front any Kafka cluster. See
// ARCHITECTURE.md for the trade-off.
//
// Handlers are thin: each decodes the request, calls one typed method of
// Server (Produce, Read, Topics, ...), and encodes the result, so the logic
// is testable without HTTP.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Server.
type Option interface{ apply(*config) }

type optFn func(*config)

func (f optFn) apply(c *config) { f(c) }

type config struct {
	seeds        []string
	clientOpts   []kgo.Opt
	gatherer     prometheus.Gatherer
	registerer   prometheus.Registerer
	ui           http.Handler
	middleware   []func(http.Handler) http.Handler
	maxBody      int64
	readLimit    int
	logger       *slog.Logger
	statsEvery   time.Duration
	producers    int
	alertsFile   string
	alertsClient *http.Client
}

// WithBrokers sets the seed brokers of the cluster the gateway fronts
// (required).
func WithBrokers(seeds ...string) Option {
	return optFn(func(c *config) { c.seeds = append(c.seeds, seeds...) })
}

// WithClientOptions adds kgo options to the gateway's clients (TLS, SASL,
// ...).
func WithClientOptions(opts ...kgo.Opt) Option {
	return optFn(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// WithMetrics serves g at /metrics and uses it for the console's live
// statistics; the gateway registers its own HTTP metrics on r (either may
// be nil). An embedded broker's Registry is both.
func WithMetrics(g prometheus.Gatherer, r prometheus.Registerer) Option {
	return optFn(func(c *config) { c.gatherer, c.registerer = g, r })
}

// WithUI mounts h at / (the web console); API, health and metrics paths
// take precedence.
func WithUI(h http.Handler) Option { return optFn(func(c *config) { c.ui = h }) }

// WithMiddleware wraps every request, API, metrics and UI alike, in mw
// (outermost first in the order given). It is the one place for
// authentication: a middleware that refuses a request answers it itself.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return optFn(func(c *config) { c.middleware = append(c.middleware, mw) })
}

// WithMaxBodyBytes bounds a request body (default 8 MiB); a larger produce
// request is refused with 413 and nothing of it is written.
func WithMaxBodyBytes(n int64) Option { return optFn(func(c *config) { c.maxBody = n }) }

// WithProducers sets how many Kafka producer clients the gateway spreads
// produce requests over (default 1). An idempotent client has one produce
// request in flight per broker, but it batches every record that arrives
// meanwhile, so one client is usually best: on loopback with 32 clients,
// 4 producers gave fewer single-record requests/s than 1 (more, smaller
// fsyncs) and about the same for batches (BenchmarkGatewayProduce).
func WithProducers(n int) Option { return optFn(func(c *config) { c.producers = n }) }

// WithAlertsFile keeps the alert rules in file (JSON), loaded by New and
// rewritten on every change, so they survive a restart (default: rules
// live in memory only).
func WithAlertsFile(file string) Option { return optFn(func(c *config) { c.alertsFile = file }) }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return optFn(func(c *config) { c.logger = l }) }

// WithStatsInterval sets how often the live statistics stream and the
// alert rules are evaluated (default 1s).
func WithStatsInterval(d time.Duration) Option { return optFn(func(c *config) { c.statsEvery = d }) }

// Server is the HTTP gateway. Create it with New, serve Handler, and Close
// it when done.
type Server struct {
	cfg       config
	logger    *slog.Logger
	producers []*kgo.Client // see WithProducers; producers[0] also serves admin
	next      atomic.Uint32
	admin     *kadm.Client
	handler   http.Handler
	alerts    *alerts
	stats     *statsHub

	httpMetrics *httpMetrics // nil without a registerer

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	topicsMu struct {
		sync.Mutex
		parts   map[string]int32 // partition counts of topics known to exist
		fetched time.Time
	}
}

// New creates a gateway for the cluster named by WithBrokers.
func New(opts ...Option) (*Server, error) {
	cfg := config{maxBody: 8 << 20, readLimit: 1000, statsEvery: time.Second, producers: 1}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.seeds) == 0 {
		return nil, errors.New("gateway: WithBrokers is required")
	}
	if cfg.producers <= 0 {
		return nil, fmt.Errorf("gateway: producers %d must be positive", cfg.producers)
	}
	if cfg.maxBody <= 0 {
		return nil, fmt.Errorf("gateway: max body bytes %d must be positive", cfg.maxBody)
	}
	if cfg.statsEvery <= 0 {
		return nil, fmt.Errorf("gateway: stats interval %v must be positive", cfg.statsEvery)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.alertsClient == nil {
		cfg.alertsClient = &http.Client{Timeout: 5 * time.Second}
	}
	popts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.seeds...),
		kgo.ClientID("eddy-gateway"),
		kgo.RecordPartitioner(gatewayPartitioner{kgo.StickyKeyPartitioner(nil)}),
		kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(100_000),
		kgo.UnknownTopicRetries(1),
		kgo.ProducerBatchMaxBytes(1 << 20),
		// Admin requests cache topic metadata this long: short, so a topic
		// deleted or created by another client is seen promptly.
		kgo.MetadataMinAge(time.Second),
	}, cfg.clientOpts...)
	var producers []*kgo.Client
	for range cfg.producers {
		cl, err := kgo.NewClient(popts...)
		if err != nil {
			for _, p := range producers {
				p.Close()
			}
			return nil, err
		}
		producers = append(producers, cl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		logger:    cfg.logger.With("component", "gateway"),
		producers: producers,
		admin:     kadm.NewClient(producers[0]),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.topicsMu.parts = map[string]int32{}
	s.httpMetrics = newHTTPMetrics(cfg.registerer)
	s.stats = newStatsHub(s)
	s.alerts = newAlerts(s)
	if err := s.alerts.load(); err != nil {
		for _, p := range producers {
			p.Close()
		}
		cancel()
		return nil, err
	}
	s.handler = s.routes()
	s.wg.Add(1)
	go s.tickLoop()
	return s, nil
}

// Handler returns the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the background loops and the gateway's Kafka clients.
// Open SSE streams end.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		for _, p := range s.producers {
			p.Close()
		}
	})
}

// Serve serves the gateway on ln until ctx ends, then shuts the HTTP
// server down (open SSE streams end) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cancel() // ends SSE streams, which would otherwise hold Shutdown
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// tickLoop refreshes the live statistics and evaluates the alert rules.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.statsEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		snap := s.Stats(s.ctx)
		s.stats.publish(snap)
		s.alerts.evaluate(s.ctx, snap)
	}
}

// apiError is an error with the HTTP status it is answered with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// writeError answers err as {"status":..., "message":...}.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status >= 500 {
		s.logger.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, errorBody{Status: status, Message: msg})
}

type errorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// producer returns the next producer client, round robin.
func (s *Server) producer() *kgo.Client {
	return s.producers[int(s.next.Add(1))%len(s.producers)]
}
