package nexmark

import (
	"context"
	"os"

	"github.com/eddy-streaming/eddy/stream"
)

func init() {
	m := map[string]engineFunc{}
	for _, q := range Queries {
		m[q] = runStream
	}
	engines[EngineStream] = m
}

// runStream runs the query's topology as a stream App (one instance) over
// the events present in the input topic, and returns when they are all
// processed (a bounded run: StopAtEnd).
func runStream(ctx context.Context, rc *runCtx) error {
	b := stream.NewBuilder()
	if err := buildQuery(b, rc.cfg.Query, rc.in, rc.out, rc.qc); err != nil {
		return err
	}
	top, err := b.Build()
	if err != nil {
		return err
	}
	opts := []stream.AppOption{
		stream.AppID(rc.appID),
		stream.Brokers(rc.cfg.Brokers...),
		stream.StopAtEnd(),
		stream.ClientOptions(rc.cfg.ClientOpts...),
		stream.Logger(rc.cfg.Logger),
	}
	if rc.cfg.State == StatePebble {
		dir, err := os.MkdirTemp("", "eddy-nexmark-state-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts = append(opts, stream.StateDir(dir))
	}
	app, err := stream.NewApp(top, opts...)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}
