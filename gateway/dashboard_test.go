package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streaming/eddy/gateway"
	"github.com/eddy-streaming/eddy/internal/streamprom"
	"github.com/eddy-streaming/eddy/stream"
)

// TestGrafanaDashboardUsesRealSeries checks that every broker and gateway
// series the shipped Grafana dashboard queries is one /metrics exposes
// (the stream runtime's eddy_stream_* series as internal/streamprom
// exports them).
func TestGrafanaDashboardUsesRealSeries(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/eddy.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	e := start(t)
	e.createTopic("d", 1)
	e.do("POST", "/api/v1/topics/d/records", `{"value":"x"}`, nil)
	e.do("GET", "/api/v1/topics/d/records", nil, nil)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "d", Partition: 0, At: 0, LeaderEpoch: -1})
	if _, err := e.adm.CommitOffsets(context.Background(), "dash", offs); err != nil {
		t.Fatal(err)
	}
	// The stream runtime's series, as eddy demo registers them.
	if err := streamprom.Register(e.b.Registry(), "dash", &stream.Metrics{}); err != nil {
		t.Fatal(err)
	}
	// One task's series (internal/streamprom's test checks them against a
	// running app).
	task := func() []stream.TaskStats {
		h := stream.Histogram{Counts: make([]uint64, len(stream.LatencyBounds)+1), Count: 2, Sum: 3 * time.Millisecond}
		h.Counts[3] = 2
		return []stream.TaskStats{{ID: "0_0", State: stream.TaskRunning, Latency: h}}
	}
	if err := streamprom.RegisterTasks(e.b.Registry(), "dash", task); err != nil {
		t.Fatal(err)
	}
	// The console's stats carry histograms as _count and _sum.
	var st gateway.Stats
	e.do("GET", "/api/v1/stats", nil, &st)
	got := map[string]float64{}
	for _, se := range st.Processors {
		if se.Labels["task"] == "0_0" {
			got[se.Name] = se.Value
		}
	}
	if got["eddy_stream_task_process_latency_seconds_count"] != 2 || got["eddy_stream_task_process_latency_seconds_sum"] != 0.003 ||
		got["eddy_stream_task_running"] != 1 {
		t.Errorf("task series in /api/v1/stats: %v", got)
	}
	metrics := e.get("/metrics")
	name := regexp.MustCompile(`eddy_[a-z_]+`)
	checked := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				checked++
				if !strings.Contains(metrics, "\n"+n) {
					t.Errorf("dashboard queries %s, which /metrics does not expose", n)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d series checked: is the dashboard empty?", checked)
	}
}
