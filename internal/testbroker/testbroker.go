// Package testbroker starts a real Eddy broker on a random loopback port
// for tests: every integration test in the repository goes through Start.
package testbroker

import (
	"log/slog"
	"os"
	"testing"

	"github.com/eddy-streaming/eddy/broker"
)

// Start runs a broker with its data in a fresh temporary directory (or
// the one given with broker.WithDataDir) and closes it when the test ends.
// Broker logs go to the test log at warn level and above, unless
// EDDY_TEST_LOG=debug.
func Start(t testing.TB, opts ...broker.Option) *broker.Broker {
	t.Helper()
	all := append([]broker.Option{
		broker.WithDataDir(t.TempDir()),
		broker.WithListen("127.0.0.1:0"),
		broker.WithLogger(Logger(t)),
		// As in Kafka's own test harness: groups rebalance without the
		// 3 s wait for more members.
		broker.WithConfig(map[string]string{"group.initial.rebalance.delay.ms": "0"}),
	}, opts...)
	b, err := broker.New(all...)
	if err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Logger returns a logger that writes to t.Log.
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
