package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/gateway"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// env is a broker and a gateway in front of it on real loopback HTTP.
type env struct {
	t   *testing.T
	b   *broker.Broker
	gw  *gateway.Server
	url string
	adm *kadm.Client
}

func start(t *testing.T, opts ...gateway.Option) *env {
	t.Helper()
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"auto.create.topics.enable": "false"}))
	gw, err := gateway.New(append([]gateway.Option{
		gateway.WithBrokers(b.Addr()),
		gateway.WithMetrics(b.Registry(), b.Registry()),
		gateway.WithLogger(testbroker.Logger(t)),
		gateway.WithStatsInterval(50 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		gw.Close()
		srv.Close()
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{t: t, b: b, gw: gw, url: srv.URL, adm: kadm.NewClient(cl)}
}

// do sends a request and decodes the JSON answer into out (if not nil),
// returning the status.
func (e *env) do(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// wantError checks a JSON error answer.
func (e *env) wantError(method, path string, body any, status int, msgPart string) {
	e.t.Helper()
	var eb struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	got := e.do(method, path, body, &eb)
	if got != status || eb.Status != status || !strings.Contains(eb.Message, msgPart) {
		e.t.Fatalf("%s %s: got %d %+v, want %d with %q", method, path, got, eb, status, msgPart)
	}
}

func (e *env) createTopic(name string, partitions int) {
	e.t.Helper()
	if st := e.do("POST", "/api/v1/topics", map[string]any{"name": name, "partitions": partitions}, nil); st != http.StatusCreated {
		e.t.Fatalf("create topic %s: status %d", name, st)
	}
}

// endOffsets asks the broker directly (not through the gateway) for a
// topic's end offsets.
func (e *env) endOffsets(topic string) map[int32]int64 {
	e.t.Helper()
	ends, err := e.adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

type readResp struct {
	Records []struct {
		Key         *string          `json:"key"`
		Value       *string          `json:"value"`
		ValueBase64 string           `json:"value_base64"`
		Headers     []gateway.Header `json:"headers"`
		Partition   int32            `json:"partition"`
		Offset      int64            `json:"offset"`
		Timestamp   int64            `json:"timestamp"`
		Extra       map[string]any   `json:"-"`
	} `json:"records"`
	NextOffset    int64 `json:"next_offset"`
	HighWatermark int64 `json:"high_watermark"`
}

func TestProduceReadRoundTrip(t *testing.T) {
	e := start(t)
	e.createTopic("clicks", 3)

	// One record, explicit partition, JSON value, headers as an object.
	var pr gateway.ProduceResponse
	st := e.do("POST", "/api/v1/topics/clicks/records", `{"key":"user1","value":{"page":"/home","n":1},"headers":{"source":"web"},"partition":2,"timestamp":1700000000000}`, &pr)
	if st != 200 || len(pr.Offsets) != 1 || pr.Offsets[0].Partition != 2 || pr.Offsets[0].Offset != 0 {
		t.Fatalf("single produce: %d %+v", st, pr)
	}
	// A batch: keyed records (same key, same partition), binary values.
	batch := map[string]any{"records": []map[string]any{
		{"key": "user7", "value": "a"},
		{"key": "user7", "value": "b"},
		{"key": "user7", "value_base64": "AP8A"},
		{"value": "no key", "partition": 2, "headers": []map[string]string{{"key": "h", "value": "1"}, {"key": "h", "value": "2"}}},
	}}
	st = e.do("POST", "/api/v1/topics/clicks/records", batch, &pr)
	if st != 200 || len(pr.Offsets) != 4 {
		t.Fatalf("batch produce: %d %+v", st, pr)
	}
	p := pr.Offsets[0].Partition
	for i := 1; i < 3; i++ {
		if pr.Offsets[i].Partition != p || pr.Offsets[i].Offset != pr.Offsets[0].Offset+int64(i) {
			t.Fatalf("records with one key spread: %+v", pr.Offsets)
		}
	}
	if pr.Offsets[3].Partition != 2 {
		t.Fatalf("explicit partition ignored: %+v", pr.Offsets[3])
	}
	if ends := e.endOffsets("clicks"); ends[0]+ends[1]+ends[2] != 5 {
		t.Fatalf("end offsets %v, want 5 records", ends)
	}

	var rr readResp
	if st := e.do("GET", fmt.Sprintf("/api/v1/topics/clicks/records?partition=%d&offset=%d&limit=10", p, pr.Offsets[0].Offset), nil, &rr); st != 200 {
		t.Fatalf("read: %d", st)
	}
	if p == 2 {
		rr.Records = rr.Records[:3] // the explicit-partition records follow
	}
	if len(rr.Records) != 3 || *rr.Records[0].Value != "a" || *rr.Records[1].Value != "b" || rr.Records[2].Value != nil || rr.Records[2].ValueBase64 != "AP8A" || *rr.Records[0].Key != "user7" {
		t.Fatalf("read back %+v", rr)
	}

	// Partition 2 from the beginning: the JSON value as compact text,
	// headers and the timestamp as sent.
	if st := e.do("GET", "/api/v1/topics/clicks/records?partition=2", nil, &rr); st != 200 {
		t.Fatalf("read: %d", st)
	}
	r0 := rr.Records[0]
	if *r0.Value != `{"page":"/home","n":1}` || *r0.Key != "user1" || r0.Timestamp != 1700000000000 || len(r0.Headers) != 1 || r0.Headers[0] != (gateway.Header{Key: "source", Value: "web"}) {
		t.Fatalf("first record of partition 2: %+v", r0)
	}
	last := rr.Records[len(rr.Records)-1]
	if *last.Value != "no key" || len(last.Headers) != 2 || last.Headers[1].Value != "2" || rr.NextOffset != last.Offset+1 || rr.HighWatermark != rr.NextOffset {
		t.Fatalf("last record of partition 2: %+v (next %d, hw %d)", last, rr.NextOffset, rr.HighWatermark)
	}

	// By timestamp: the first record at or after it.
	if st := e.do("GET", "/api/v1/topics/clicks/records?partition=2&timestamp=1700000000001", nil, &rr); st != 200 || len(rr.Records) == 0 || rr.Records[0].Offset != 1 {
		t.Fatalf("read by timestamp: %d %+v", st, rr)
	}
	// A page bounded by end_offset and limit.
	if st := e.do("GET", "/api/v1/topics/clicks/records?partition=2&offset=0&limit=1", nil, &rr); st != 200 || len(rr.Records) != 1 || rr.NextOffset != 1 {
		t.Fatalf("limit 1: %d %+v", st, rr)
	}
	// Past the end: empty, not an error.
	if st := e.do("GET", "/api/v1/topics/clicks/records?partition=2&offset=100", nil, &rr); st != 200 || len(rr.Records) != 0 {
		t.Fatalf("past the end: %d %+v", st, rr)
	}
}

func TestProduceRefusesBadInputWritingNothing(t *testing.T) {
	e := start(t, gateway.WithMaxBodyBytes(4096))
	e.createTopic("orders", 2)
	path := "/api/v1/topics/orders/records"

	e.wantError("POST", path, `{"key":"a","value":`, 400, "bad JSON")
	e.wantError("POST", path, `{"records":[{"value":"ok"},{"value":"x","partition":"one"}]}`, 400, "bad JSON")
	e.wantError("POST", path, `{"valu":"typo"}`, 400, "unknown field")
	e.wantError("POST", path, `{}`, 400, "no records")
	e.wantError("POST", path, `{"records":[]}`, 400, "no records")
	e.wantError("POST", path, `{"records":[{"value":"ok"},{"value_base64":"%%%"}]}`, 400, "record 1")
	e.wantError("POST", path, `{"records":[{"value":"ok"},{"value":"x","partition":7}]}`, 404, "no partition 7")
	e.wantError("POST", path, `{"records":[{"value":"ok"},{"value":"x","partition":-1}]}`, 400, "negative")
	e.wantError("POST", "/api/v1/topics/nosuch/records", `{"value":"x"}`, 404, `topic "nosuch" does not exist`)

	// Oversized: a batch whose first records would fit.
	var big bytes.Buffer
	big.WriteString(`{"records":[`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"value":"record %d padded to make the body large"}`, i)
	}
	big.WriteString(`]}`)
	e.wantError("POST", path, big.Bytes(), 413, "larger than the limit of 4096 bytes")

	if ends := e.endOffsets("orders"); ends[0] != 0 || ends[1] != 0 {
		t.Fatalf("refused requests wrote records: end offsets %v", ends)
	}
	// The unknown topic was not created by producing to it.
	if e.do("GET", "/api/v1/topics/nosuch", nil, nil) != 404 {
		t.Fatal("producing to an unknown topic created it")
	}
	// And a good request still works after all that.
	var pr gateway.ProduceResponse
	if st := e.do("POST", path, `{"value":"fine"}`, &pr); st != 200 {
		t.Fatalf("good produce after bad ones: %d", st)
	}

	// Reads with bad parameters.
	e.wantError("GET", "/api/v1/topics/orders/records?partition=9", nil, 404, "no partition 9")
	e.wantError("GET", "/api/v1/topics/orders/records?offset=abc", nil, 400, "not an integer")
	e.wantError("GET", "/api/v1/topics/orders/records?limit=0", nil, 400, "limit")
	e.wantError("GET", "/api/v1/topics/orders/records?timestamp=yesterday", nil, 400, "RFC 3339")
	e.wantError("GET", "/api/v1/topics/nosuch/records", nil, 404, "does not exist")
	e.wantError("GET", "/api/v1/nothing-here", nil, 404, "no API endpoint")
}

func TestTopicAdmin(t *testing.T) {
	e := start(t)
	var td gateway.TopicDescription
	if st := e.do("POST", "/api/v1/topics", `{"name":"events","partitions":4,"configs":{"retention.ms":"3600000"}}`, &td); st != 201 || len(td.Partitions) != 4 {
		t.Fatalf("create: %d %+v", st, td)
	}
	e.wantError("POST", "/api/v1/topics", `{"name":"events","partitions":1}`, 409, "")
	e.wantError("POST", "/api/v1/topics", `{"name":"bad/name","partitions":1}`, 400, "")
	e.wantError("POST", "/api/v1/topics", `{"partitions":1}`, 400, "needs a name")
	e.wantError("POST", "/api/v1/topics", `{"name":"x","configs":{"retention.ms":"soon"}}`, 400, "")

	var list struct{ Topics []gateway.TopicSummary }
	if e.do("GET", "/api/v1/topics", nil, &list); len(list.Topics) != 1 || list.Topics[0].Name != "events" || list.Topics[0].Partitions != 4 {
		t.Fatalf("list: %+v", list)
	}
	if st := e.do("GET", "/api/v1/topics?internal=true", nil, &list); st != 200 || len(list.Topics) < 2 {
		t.Fatalf("list with internal topics: %d %+v", st, list)
	}
	configValue := func(cs []gateway.ConfigEntry, name string) (string, string) {
		for _, c := range cs {
			if c.Name == name && c.Value != nil {
				return *c.Value, c.Source
			}
		}
		return "", ""
	}
	if st := e.do("GET", "/api/v1/topics/events", nil, &td); st != 200 {
		t.Fatal(st)
	}
	if v, src := configValue(td.Configs, "retention.ms"); v != "3600000" || src != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms = %q from %s", v, src)
	}
	var cs struct{ Configs []gateway.ConfigEntry }
	if st := e.do("PATCH", "/api/v1/topics/events/configs", `{"set":{"cleanup.policy":"compact"},"delete":["retention.ms"]}`, &cs); st != 200 {
		t.Fatalf("alter: %d", st)
	}
	if v, _ := configValue(cs.Configs, "cleanup.policy"); v != "compact" {
		t.Fatalf("cleanup.policy = %q", v)
	}
	if _, src := configValue(cs.Configs, "retention.ms"); src == "DYNAMIC_TOPIC_CONFIG" {
		t.Fatal("retention.ms not reset")
	}
	e.wantError("PATCH", "/api/v1/topics/events/configs", `{"set":{"no.such.config":"1"}}`, 400, "")
	e.wantError("PATCH", "/api/v1/topics/nosuch/configs", `{"set":{"retention.ms":"1"}}`, 404, "")

	if st := e.do("DELETE", "/api/v1/topics/events", nil, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	e.wantError("DELETE", "/api/v1/topics/events", nil, 404, "")
	e.wantError("GET", "/api/v1/topics/events", nil, 404, "does not exist")
}

func TestTailStreamsNewRecords(t *testing.T) {
	e := start(t)
	e.createTopic("live", 2)
	e.do("POST", "/api/v1/topics/live/records", `{"value":"before"}`, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/topics/live/tail", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("tail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	// The tail starts at the end: produce until an event arrives (the
	// consumer may not have listed offsets when the first record lands).
	want := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		v := fmt.Sprintf("after-%d", i)
		want[v] = true
		e.do("POST", "/api/v1/topics/live/records", map[string]any{"key": "k", "value": v}, nil)
		select {
		case d := <-events:
			var rec struct{ Value string }
			json.Unmarshal([]byte(d), &rec)
			if !want[rec.Value] {
				t.Fatalf("tail sent %s; want one of the records produced after it started", d)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no record event within 20s")
		}
	}
}

func TestGroupsWithLag(t *testing.T) {
	e := start(t)
	e.createTopic("jobs", 2)
	recs := `{"records":[{"value":"1","partition":0},{"value":"2","partition":0},{"value":"3","partition":1},{"value":"4","partition":1},{"value":"5","partition":1}]}`
	e.do("POST", "/api/v1/topics/jobs/records", recs, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.b.Addr()), kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Consume and commit only partition 0's records: partition 1 lags 3.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var p0 []*kgo.Record
	for len(p0) < 2 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("consuming timed out")
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition == 0 {
				p0 = append(p0, r)
			}
		})
	}
	if err := cl.CommitRecords(ctx, p0...); err != nil {
		t.Fatal(err)
	}
	var list struct{ Groups []gateway.GroupSummary }
	if st := e.do("GET", "/api/v1/groups", nil, &list); st != 200 || len(list.Groups) != 1 || list.Groups[0].Group != "workers" || list.Groups[0].Members != 1 || list.Groups[0].Lag != 3 {
		t.Fatalf("groups: %d %+v", st, list)
	}
	var gd gateway.GroupDescription
	if st := e.do("GET", "/api/v1/groups/workers", nil, &gd); st != 200 {
		t.Fatal(st)
	}
	if gd.State != "Stable" || len(gd.Members) != 1 || len(gd.Members[0].Assigned["jobs"]) != 2 || len(gd.Offsets) != 2 {
		t.Fatalf("describe: %+v", gd)
	}
	if o := gd.Offsets[0]; o.Partition != 0 || o.Committed != 2 || o.Lag != 0 || o.MemberID == "" {
		t.Fatalf("partition 0: %+v", o)
	}
	if o := gd.Offsets[1]; o.Partition != 1 || o.HighWatermark != 3 || o.Lag != 3 {
		t.Fatalf("partition 1: %+v", o)
	}
	e.wantError("GET", "/api/v1/groups/nobody", nil, 404, "does not exist")
	e.wantError("DELETE", "/api/v1/groups/workers", nil, 409, "")

	// The broker's own view in /metrics agrees.
	metrics := e.get("/metrics")
	for _, want := range []string{
		`eddy_group_lag{group="workers",partition="0",topic="jobs"} 0`,
		`eddy_group_committed_offset{group="workers",partition="0",topic="jobs"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func (e *env) get(path string) string {
	e.t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return string(raw)
}

func TestMetricsAndHealth(t *testing.T) {
	e := start(t)
	e.createTopic("m", 1)
	e.do("POST", "/api/v1/topics/m/records", `{"records":[{"value":"a"},{"value":"b"},{"value":"c"}]}`, nil)
	var rr readResp
	e.do("GET", "/api/v1/topics/m/records", nil, &rr)
	if len(rr.Records) != 3 {
		t.Fatalf("read %d records", len(rr.Records))
	}
	m := e.get("/metrics")
	for _, want := range []string{
		`eddy_topic_records_in_total{topic="m"} 3`,
		`eddy_topic_records_out_total{topic="m"} 3`,
		`eddy_topic_bytes_in_total{topic="m"}`,
		`eddy_topic_bytes_out_total{topic="m"}`,
		`eddy_requests_total{api="Produce"}`,
		`eddy_request_duration_seconds_bucket{api="Fetch",le=`,
		`eddy_open_connections`,
		`eddy_partition_log_size_bytes{partition="0",topic="m"}`,
		`eddy_partition_high_watermark{partition="0",topic="m"} 3`,
		`eddy_fsync_duration_seconds_count`,
		`eddy_http_requests_total{code="200",method="post",route="POST /api/v1/topics/{topic}/records"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(m)
	}
	if !strings.Contains(e.get("/healthz"), "ok") || !strings.Contains(e.get("/readyz"), "ready") {
		t.Fatal("health")
	}
	var st gateway.Stats
	e.do("GET", "/api/v1/stats", nil, &st)
	if st.Topics["m"] == nil || st.Topics["m"].RecordsIn != 3 || st.Topics["m"].LogBytes <= 0 {
		t.Fatalf("stats: %+v", st.Topics["m"])
	}

	// Readiness follows the broker.
	e.b.Close()
	e.wantError("GET", "/readyz", nil, 503, "not ready")
}

func TestMiddlewareGuardsEverything(t *testing.T) {
	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer letmein" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"status":401,"message":"authentication required"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, gateway.WithMiddleware(deny))
	for _, p := range []string{"/api/v1/topics", "/metrics", "/healthz", "/"} {
		e.wantError("GET", p, nil, 401, "authentication required")
	}
	req, _ := http.NewRequest("GET", e.url+"/api/v1/topics", nil)
	req.Header.Set("Authorization", "Bearer letmein")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorized request: %d", resp.StatusCode)
	}
}

func TestAlertCallsWebhook(t *testing.T) {
	notes := make(chan gateway.AlertNotification, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n gateway.AlertNotification
		json.NewDecoder(r.Body).Decode(&n)
		notes <- n
	}))
	defer hook.Close()
	e := start(t)
	e.createTopic("work", 1)

	e.wantError("POST", "/api/v1/alerts", `{"name":"x","kind":"cpu"}`, 400, "kind")
	e.wantError("POST", "/api/v1/alerts", `{"name":"x","kind":"group_lag"}`, 400, "needs a group")
	e.wantError("POST", "/api/v1/alerts", `{"name":"x","kind":"dlq_rate","webhook":"ftp://x"}`, 400, "webhook")
	rule := gateway.AlertRule{Name: "slow-workers", Kind: gateway.AlertGroupLag, Group: "g", Threshold: 2, Webhook: hook.URL}
	if st := e.do("POST", "/api/v1/alerts", rule, nil); st != 200 {
		t.Fatal(st)
	}
	// The group commits offset 0 of a partition holding 5 records: lag 5.
	e.do("POST", "/api/v1/topics/work/records", `{"records":[{"value":"1"},{"value":"2"},{"value":"3"},{"value":"4"},{"value":"5"}]}`, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	commit := func(off int64) {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "work", Partition: 0, At: off, LeaderEpoch: -1})
		if _, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "g", os); err != nil {
			t.Fatal(err)
		}
	}
	commit(0)
	select {
	case n := <-notes:
		if n.Alert != "slow-workers" || n.State != "firing" || n.Value != 5 || n.Group != "g" {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call")
	}
	var al struct{ Alerts []gateway.AlertStatus }
	e.do("GET", "/api/v1/alerts", nil, &al)
	if len(al.Alerts) != 1 || al.Alerts[0].State != gateway.StateFiring {
		t.Fatalf("alerts: %+v", al)
	}
	commit(5)
	select {
	case n := <-notes:
		if n.State != "resolved" || n.Value != 0 {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no resolved call")
	}
	if st := e.do("DELETE", "/api/v1/alerts/slow-workers", nil, nil); st != 200 {
		t.Fatal(st)
	}
}

func TestAlertRulesSurviveRestart(t *testing.T) {
	file := t.TempDir() + "/alerts.json"
	e := start(t, gateway.WithAlertsFile(file))
	rule := `{"name":"dlq","kind":"dlq_rate","threshold":5,"for_seconds":10,"webhook":"http://127.0.0.1:1/hook"}`
	if st := e.do("POST", "/api/v1/alerts", rule, nil); st != 200 {
		t.Fatal(st)
	}
	e.do("POST", "/api/v1/alerts", `{"name":"gone","kind":"group_lag","group":"g","threshold":1}`, nil)
	if st := e.do("DELETE", "/api/v1/alerts/gone", nil, nil); st != 200 {
		t.Fatal(st)
	}
	e.gw.Close()

	gw, err := gateway.New(gateway.WithBrokers(e.b.Addr()), gateway.WithAlertsFile(file), gateway.WithLogger(testbroker.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	e2 := &env{t: t, b: e.b, gw: gw, url: srv.URL}
	var al struct{ Alerts []gateway.AlertStatus }
	e2.do("GET", "/api/v1/alerts", nil, &al)
	if len(al.Alerts) != 1 || al.Alerts[0].Name != "dlq" || al.Alerts[0].Metric != gateway.DefaultDLQMetric || al.Alerts[0].Webhook != "http://127.0.0.1:1/hook" || al.Alerts[0].State != gateway.StateOK {
		t.Fatalf("after restart: %+v", al)
	}

	// A damaged file is an error, not an empty rule set.
	if err := os.WriteFile(file, []byte(`[{"name":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(gateway.WithBrokers(e.b.Addr()), gateway.WithAlertsFile(file)); err == nil || !strings.Contains(err.Error(), "alerts.json") {
		t.Fatalf("damaged alerts file: %v", err)
	}
}
