package gateway

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes builds the mux: the JSON API under /api/v1, health, metrics, and
// the UI at /. Every route goes through the middleware chain (WithMiddleware)
// and the gateway's own request metrics.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, s.instrument(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		}))
	}
	// admin routes: a typed call under the admin timeout, answered as JSON.
	admin := func(pattern string, fn func(ctx context.Context, r *http.Request) (any, error)) {
		api(pattern, func(w http.ResponseWriter, r *http.Request) error {
			ctx, cancel := s.adminCtx(r)
			defer cancel()
			v, err := fn(ctx, r)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		})
	}
	api("GET /healthz", s.handleHealth)
	api("GET /readyz", s.handleReady)

	admin("GET /api/v1/cluster", s.handleCluster)
	admin("GET /api/v1/topics", s.handleListTopics)
	api("POST /api/v1/topics", s.handleCreateTopic)
	admin("GET /api/v1/topics/{topic}", s.handleDescribeTopic)
	admin("DELETE /api/v1/topics/{topic}", s.handleDeleteTopic)
	admin("GET /api/v1/topics/{topic}/configs", s.handleTopicConfigs)
	api("PATCH /api/v1/topics/{topic}/configs", s.handleAlterTopicConfigs)
	api("POST /api/v1/topics/{topic}/records", s.handleProduce)
	api("GET /api/v1/topics/{topic}/records", s.handleRead)
	api("GET /api/v1/topics/{topic}/tail", s.handleTail)

	admin("GET /api/v1/groups", s.handleListGroups)
	admin("GET /api/v1/groups/{group}", s.handleDescribeGroup)
	admin("DELETE /api/v1/groups/{group}", s.handleDeleteGroup)

	api("GET /api/v1/stats", s.handleStats)
	api("GET /api/v1/stats/stream", s.handleStatsStream)

	api("GET /api/v1/alerts", s.handleListAlerts)
	api("POST /api/v1/alerts", s.handlePutAlert)
	api("DELETE /api/v1/alerts/{name}", s.handleDeleteAlert)

	api("/api/", func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no API endpoint %s %s (see docs/http-api.md)", r.Method, r.URL.Path)
	})

	if s.cfg.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.gatherer, promhttp.HandlerOpts{}))
	}
	if s.cfg.ui != nil {
		mux.Handle("/", s.cfg.ui)
	}
	var h http.Handler = mux
	for i := len(s.cfg.middleware) - 1; i >= 0; i-- {
		h = s.cfg.middleware[i](h)
	}
	return h
}

// instrument counts requests and their latency by route when the gateway
// has a registerer.
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	if s.httpMetrics == nil {
		return h
	}
	labels := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerDuration(s.httpMetrics.latency.MustCurryWith(labels),
		promhttp.InstrumentHandlerCounter(s.httpMetrics.requests.MustCurryWith(labels), h))
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(r prometheus.Registerer) *httpMetrics {
	if r == nil {
		return nil
	}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_http_requests_total", Help: "HTTP gateway requests, by route and status code.",
		}, []string{"route", "code", "method"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eddy_http_request_duration_seconds", Help: "HTTP gateway request latency, by route (SSE streams until they end).",
			Buckets: prometheus.ExponentialBuckets(100e-6, 3, 12),
		}, []string{"route", "code", "method"}),
	}
	if err := r.Register(m.requests); err != nil {
		return nil
	}
	if err := r.Register(m.latency); err != nil {
		r.Unregister(m.requests)
		return nil
	}
	return m
}
