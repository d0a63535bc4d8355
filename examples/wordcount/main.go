// Command wordcount counts words in the lines of a topic and writes the
// running count of each word to another: the stream library's hello world.
//
//	eddy topic create lines -p 3 && eddy topic create word-counts -p 3
//	go run ./examples/wordcount --brokers 127.0.0.1:9092
//	printf 'to be or not to be\n' | eddy produce lines
//	eddy consume word-counts --from-beginning --format '%k %v\n'   # values are 8-byte counts
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// topology: lines -> words -> group by word -> count -> word-counts.
func topology(in, out string) (*stream.Topology, error) {
	b := stream.NewBuilder()
	lines := stream.From(b, in, serde.String, serde.String)
	words := stream.FlatMapValues(lines, func(_ string, line string, emit func(string)) {
		for _, w := range strings.Fields(strings.ToLower(line)) {
			emit(strings.Trim(w, ".,;:!?\"'()"))
		}
	}).WithSerdes(serde.String, serde.String)
	stream.GroupBy(words, func(_, w string) string { return w }, serde.String, stream.Named("words")).
		Count(stream.Named("counts")).
		ToStream().To(out)
	return b.Build()
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed brokers, comma separated")
	app := flag.String("app", "wordcount", "application id")
	in := flag.String("in", "lines", "input topic")
	out := flag.String("out", "word-counts", "output topic")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	top, err := topology(*in, *out)
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
