package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/eddy-streaming/eddy/internal/streamprom"
	"github.com/eddy-streaming/eddy/stream"
)

//go:embed static
var files embed.FS

// Handler serves the dashboard page; mount it at /demo/.
func Handler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return http.StripPrefix("/demo", http.FileServer(http.FS(sub)))
}

// Config is what Run needs.
type Config struct {
	// Brokers are the Kafka seed brokers the processor reads and writes.
	Brokers []string
	// GatewayURL is the HTTP gateway the generator posts clicks to and the
	// topics are created through.
	GatewayURL string
	// Registry, if set, gets the processor's eddy_stream_* metrics.
	Registry prometheus.Registerer
	// Generator tunes the clicks (its URL is set from GatewayURL).
	Generator Generator
	// StateDir keeps the processor's state in Pebble there (default: in
	// memory, restored from the changelogs).
	StateDir string
	Logger   *slog.Logger
}

// Run creates the demo's topics, then runs the processor and the click
// generator until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, t := range []struct {
		name       string
		partitions int
	}{{ClicksTopic, 3}, {StatsTopic, 3}, {RateTopic, 1}, {PurchasesTopic, 1}} {
		if err := createTopic(ctx, cfg.GatewayURL, t.name, t.partitions); err != nil {
			return err
		}
	}
	top, err := Topology()
	if err != nil {
		return err
	}
	opts := []stream.AppOption{
		stream.AppID(AppID),
		stream.Brokers(cfg.Brokers...),
		stream.Logger(cfg.Logger),
		stream.CommitInterval(500 * time.Millisecond),
	}
	if cfg.StateDir != "" {
		opts = append(opts, stream.StateDir(cfg.StateDir))
	}
	app, err := stream.NewApp(top, opts...)
	if err != nil {
		return err
	}
	if cfg.Registry != nil {
		if err := streamprom.Register(cfg.Registry, AppID, app.Metrics()); err != nil {
			return err
		}
		if err := streamprom.RegisterTasks(cfg.Registry, AppID, app.TaskMetrics); err != nil {
			return err
		}
	}
	gen := cfg.Generator
	gen.URL = cfg.GatewayURL
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return app.Run(gctx) })
	g.Go(func() error { return gen.Run(gctx) })
	err = g.Wait()
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || err == nil) {
		return nil
	}
	return err
}

// createTopic creates a topic through the gateway; one that exists is
// fine.
func createTopic(ctx context.Context, url, name string, partitions int) error {
	body := fmt.Sprintf(`{"name":%q,"partitions":%d}`, name, partitions)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/topics", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("creating topic %s: gateway answered %s", name, resp.Status)
	}
	return nil
}
