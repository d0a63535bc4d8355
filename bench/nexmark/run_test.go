package nexmark

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// ciConfig sizes the CI correctness runs: 20,000 events at 500 events/s of
// event time span 40s, so that q5's, q7's and q8's windows open and close
// several times.
var ciConfig = Config{Events: 20_000, EventsPerSecond: 500, BaseTime: testBaseTime}

// runVerified runs q end to end through a real broker and fails unless the
// output equals the reference.
func runVerified(t *testing.T, brokers []string, q, engine string) *RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, RunConfig{Brokers: brokers, Query: q, Engine: engine, Generator: ciConfig, Verify: true})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !res.Verified {
		t.Fatalf("%s: %v", q, res.VerifyErr)
	}
	if res.OutputRows == 0 {
		t.Fatalf("%s: no output", q)
	}
	var sb strings.Builder
	_ = res.Print(&sb)
	t.Log(sb.String())
	return res
}

func TestRunKgoEngine(t *testing.T) {
	b := testbroker.Start(t)
	for i, q := range []string{"q0", "q1", "q2"} {
		res := runVerified(t, []string{b.Addr()}, q, EngineKgo)
		if res.Loaded != (i == 0) {
			t.Errorf("%s: loaded %v: events must be loaded once and reused", q, res.Loaded)
		}
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []RunConfig{
		{Query: "q0", Generator: ciConfig},
		{Brokers: []string{"127.0.0.1:1"}, Query: "q6", Generator: ciConfig},
		{Brokers: []string{"127.0.0.1:1"}, Query: "q3", Engine: EngineKgo, Generator: ciConfig},
		{Brokers: []string{"127.0.0.1:1"}, Query: "q0", Engine: EngineKgo},
	} {
		if _, err := Run(ctx, cfg); err == nil {
			t.Errorf("Run(%+v): no error", cfg)
		}
	}
}

// TestRunStreamEngine runs every query written with the stream DSL end to
// end through a real broker (a bounded run over the loaded events) and
// checks its output against the reference.
func TestRunStreamEngine(t *testing.T) {
	b := testbroker.Start(t)
	for _, q := range Queries {
		t.Run(q, func(t *testing.T) { runVerified(t, []string{b.Addr()}, q, EngineStream) })
	}
}
