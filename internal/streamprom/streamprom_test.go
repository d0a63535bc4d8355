package streamprom_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/internal/streamprom"
	"github.com/eddy-streaming/eddy/internal/testbroker"
	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// series returns the value of every series of family name by task label
// (histograms: their sample count).
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var task, app string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "task":
					task = l.GetValue()
				case "app":
					app = l.GetValue()
				}
			}
			if app != "sp" {
				t.Errorf("%s: app label %q", name, app)
			}
			out[task] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// A running app's tasks show on the registry with their counters, and
// disappear when the app stops.
func TestTaskSeries(t *testing.T) {
	b := testbroker.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	// Partition 0: 2 good records; partition 1: 1 good, 1 not 8 bytes.
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "in", Partition: 0, Key: []byte("a"), Value: []byte("12345678")},
		&kgo.Record{Topic: "in", Partition: 0, Key: []byte("b"), Value: []byte("12345678")},
		&kgo.Record{Topic: "in", Partition: 1, Key: []byte("c"), Value: []byte("12345678")},
		&kgo.Record{Topic: "in", Partition: 1, Key: []byte("d"), Value: []byte("bad")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bl := stream.NewBuilder()
	stream.From(bl, "in", serde.String, serde.Int64).GroupByKey().Count(stream.Named("n"))
	top, err := bl.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := stream.NewApp(top, stream.AppID("sp"), stream.Brokers(b.Addr()), stream.Logger(testbroker.Logger(t)),
		stream.CommitInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := streamprom.Register(reg, "sp", app.Metrics()); err != nil {
		t.Fatal(err)
	}
	if err := streamprom.RegisterTasks(reg, "sp", app.TaskMetrics); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r := series(t, reg, "eddy_stream_task_records_total"); r["0_0"] == 2 && r["0_1"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task records: %v", series(t, reg, "eddy_stream_task_records_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, want := range map[string]map[string]float64{
		"eddy_stream_task_dead_letters_total":        {"0_0": 0, "0_1": 1},
		"eddy_stream_task_errors_total":              {"0_0": 0, "0_1": 1},
		"eddy_stream_task_running":                   {"0_0": 1, "0_1": 1},
		"eddy_stream_task_restore_remaining_records": {"0_0": 0, "0_1": 0},
		"eddy_stream_task_restored_records":          {"0_0": 0, "0_1": 0},
		"eddy_stream_task_standby":                   {"0_0": 0, "0_1": 0},
		"eddy_stream_task_standby_lag_records":       {"0_0": 0, "0_1": 0},
	} {
		got := series(t, reg, name)
		if len(got) != len(want) || got["0_0"] != want["0_0"] || got["0_1"] != want["0_1"] {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if l := series(t, reg, "eddy_stream_task_process_latency_seconds"); l["0_0"] < 1 || l["0_1"] < 1 {
		t.Errorf("latency observations %v", l)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := series(t, reg, "eddy_stream_task_records_total"); len(r) != 0 {
		t.Fatalf("series of stopped tasks: %v", r)
	}
	if r := series(t, reg, "eddy_stream_records_processed_total"); r[""] != 4 {
		t.Fatalf("app records %v", r)
	}
}
