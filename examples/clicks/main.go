// Command clicks computes the popularity of each product: for every click,
// the number of clicks the product got in the sliding window of the last
// five minutes (event time), written to product-popularity. Clicks more
// than a minute late go to the dead-letter topic clicks-popularity-dlq.
//
// Input: topic clicks, key = user id, value = {"product":"p1","at":<ms>}.
// Output: topic product-popularity, key = product id,
// value = {"product":"p1","clicks":12,"window_start":..,"window_end":..}.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// Click is one click on a product.
type Click struct {
	Product string `json:"product"`
	At      int64  `json:"at"` // event time, ms since the epoch
}

// Popularity is a product's click count in one window.
type Popularity struct {
	Product     string `json:"product"`
	Clicks      int64  `json:"clicks"`
	WindowStart int64  `json:"window_start"`
	WindowEnd   int64  `json:"window_end"`
}

const (
	window = 5 * time.Minute
	grace  = time.Minute
)

func topology(in, out string) (*stream.Topology, error) {
	b := stream.NewBuilder()
	clicks := stream.From(b, in, serde.String, serde.JSON[Click]()).
		WithTimestamp(func(_ string, c Click, ts int64) int64 {
			if c.At > 0 {
				return c.At
			}
			return ts
		})
	byProduct := stream.GroupBy(clicks, func(_ string, c Click) string { return c.Product }, serde.String, stream.Named("by-product"))
	counts := stream.WindowedBy(byProduct, stream.SlidingWindows(window).Grace(grace)).Count(stream.Named("popularity"))
	stream.Map(counts.ToStream(), func(w stream.Windowed[string], n int64) (string, Popularity) {
		return w.Key, Popularity{Product: w.Key, Clicks: n, WindowStart: w.Start, WindowEnd: w.End}
	}).WithSerdes(serde.String, serde.JSON[Popularity]()).To(out)
	return b.Build()
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed brokers, comma separated")
	app := flag.String("app", "clicks-popularity", "application id")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	top, err := topology("clicks", "product-popularity")
	if err != nil {
		log.Error("building topology", "err", err)
		os.Exit(1)
	}
	a, err := stream.NewApp(top, stream.AppID(*app), stream.Brokers(strings.Split(*brokers, ",")...), stream.Logger(log))
	if err != nil {
		log.Error("starting", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}
