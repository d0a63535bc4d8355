package cli

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/internal/browsertest"
)

// TestDemoEndToEnd runs `eddy demo` and checks what a visitor sees: the
// dashboard's numbers change as the processor's windows move, the console
// lists the demo's topics, its consumer group with lag and its stream
// processor, and /metrics has the broker, gateway and stream series.
func TestDemoEndToEnd(t *testing.T) {
	br := browsertest.New(t, 1366, 900)
	ctx, cancel := context.WithCancel(context.Background())
	root := NewRoot()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"demo", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--rate", "60"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	var base string
	re := regexp.MustCompile(`Dashboard: (http://[0-9.:]+)/demo/`)
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v (output %q)", err, out.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("demo printed no dashboard address: %q", out.String())
	}

	// The dashboard: top products, clicks per second, purchases, all
	// moving.
	br.Open(base + "/demo/")
	br.WaitFor("top products", `document.querySelectorAll("#top tr[data-product]").length >= 5`, 40*time.Second)
	br.WaitFor("clicks per second", `/^[1-9]/.test(document.getElementById("k-rate").textContent)`, 20*time.Second)
	br.WaitFor("a purchase", `document.querySelectorAll("#purchases li .price").length >= 1`, 30*time.Second)
	snapshot := `[...document.querySelectorAll("#top tr[data-product]")].map(r => r.dataset.product + ":" + r.querySelector(".views").textContent).join(",") + "|" + document.querySelector("#c-rate .legend").textContent`
	before := browsertest.Eval[string](br, snapshot)
	br.WaitFor("dashboard numbers changing", snapshot+" !== "+jsString(before), 20*time.Second)
	br.Screenshot("dashboard")

	// The console sees the demo's topics, group (with lag) and processor.
	br.Open(base + "/#/topics")
	br.WaitFor("demo topics", `["demo-clicks", "demo-product-stats", "demo-purchases", "demo-clicks-per-sec"].every(n => document.querySelector('#rows tr[data-topic="' + n + '"]'))`, 20*time.Second)
	br.Screenshot("console-topics")
	br.Open(base + "/#/groups")
	br.WaitFor("demo group with lag", `[...document.querySelectorAll("#rows tr")].some(r => r.cells[0].textContent === "demo-popularity" && r.cells[1].textContent === "Stable" && /^[0-9]/.test(r.cells[3].textContent))`, 30*time.Second)
	br.Open(base + "/#/groups/demo-popularity")
	br.WaitFor("lag per partition", `[...document.querySelectorAll("#offsets tr")].filter(r => r.cells[0].textContent === "demo-clicks" && /^[0-9]/.test(r.cells[4].textContent)).length === 3`, 30*time.Second)
	br.Screenshot("console-group")
	br.Open(base + "/#/processors")
	br.WaitFor("processor row", `[...document.querySelectorAll("#rows tr")].some(r => r.textContent.includes("app=demo-popularity") && /[1-9]/.test(r.cells[r.cells.length - 1].textContent))`, 30*time.Second)
	br.WaitFor("task rows", `[...document.querySelectorAll('#tasks tr[data-task^="demo-popularity/"]')].some(r => r.cells[2].textContent === "running" && /[1-9]/.test(r.cells[3].textContent) && /s$/.test(r.cells[5].textContent))`, 30*time.Second)
	br.Screenshot("console-processors")

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	for _, want := range []string{
		`eddy_topic_records_in_total{topic="demo-clicks"}`,
		`eddy_topic_records_out_total{topic="demo-clicks"}`,
		`eddy_topic_bytes_in_total{topic="demo-product-stats"}`,
		`eddy_requests_total{api="Produce"}`,
		`eddy_request_duration_seconds_bucket{api="Fetch"`,
		`eddy_open_connections`,
		`eddy_partition_log_size_bytes{partition="0",topic="demo-clicks"}`,
		`eddy_fsync_duration_seconds_count`,
		`eddy_group_lag{group="demo-popularity",partition="0",topic="demo-clicks"}`,
		`eddy_http_requests_total{code="200",method="post",route="POST /api/v1/topics/{topic}/records"}`,
		`eddy_stream_records_processed_total{app="demo-popularity"}`,
		`eddy_stream_dead_letter_records_total{app="demo-popularity"}`,
		`eddy_stream_restored_records_total{app="demo-popularity"}`,
		`eddy_stream_task_records_total{app="demo-popularity",task="0_0"}`,
		`eddy_stream_task_process_latency_seconds_bucket{app="demo-popularity",task="0_0",le="0.01"}`,
		`eddy_stream_task_dead_letters_total{app="demo-popularity",task="0_0"}`,
		`eddy_stream_task_restore_remaining_records{app="demo-popularity",task="0_0"} 0`,
		`eddy_stream_task_running{app="demo-popularity",task="0_0"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
