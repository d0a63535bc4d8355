package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/console"
	"github.com/eddy-streaming/eddy/gateway"
	"github.com/eddy-streaming/eddy/internal/browsertest"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Errorf("POST %s: %d", url, resp.StatusCode)
	}
}

// TestConsoleInBrowser drives every page of the console in headless
// Chromium against a real broker and gateway, with records flowing.
func TestConsoleInBrowser(t *testing.T) {
	br := browsertest.New(t, 1366, 900)
	b := testbroker.Start(t)
	gw, err := gateway.New(
		gateway.WithBrokers(b.Addr()),
		gateway.WithMetrics(b.Registry(), b.Registry()),
		gateway.WithUI(console.Handler()),
		gateway.WithLogger(testbroker.Logger(t)),
		gateway.WithStatsInterval(250*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	defer gw.Close()
	defer srv.CloseClientConnections()
	api := srv.URL + "/api/v1"

	post(t, api+"/topics", `{"name":"clicks","partitions":3}`)
	post(t, api+"/topics", `{"name":"orders","partitions":1,"configs":{"retention.ms":"86400000"}}`)
	// Records keep flowing while the browser looks: the charts must move.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			body := fmt.Sprintf(`{"records":[{"key":"user%d","value":{"user":"user%d","page":"/product/%d","action":"view"},"headers":{"source":"web"}},{"key":"user%d","value":"plain text %d"}]}`, i%7, i%7, i%13, i%5, i)
			post(t, api+"/topics/clicks/records", body)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	// A consumer group that read some of clicks and lags on the rest.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "clicks", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "dashboard", offs); err != nil {
		t.Fatal(err)
	}

	// Overview: live rates and charts.
	br.Open(srv.URL + "/#/overview")
	br.WaitFor("records in rate", `/^[1-9]/.test(document.getElementById("s-rin").textContent)`, 20*time.Second)
	br.WaitFor("busiest topics", `document.querySelector("#t-busy a") && document.querySelector("#t-busy a").textContent === "clicks"`, 10*time.Second)
	br.WaitFor("chart legend", `document.querySelectorAll("#c-records .legend span").length === 2`, 10*time.Second)
	first := browsertest.Eval[string](br, `document.getElementById("s-conns").textContent + "|" + document.querySelector("#c-records .legend").textContent`)
	br.WaitFor("numbers changing", fmt.Sprintf(`document.getElementById("s-conns").textContent + "|" + document.querySelector("#c-records .legend").textContent !== %q`, first), 10*time.Second)
	br.Screenshot("overview")

	// Topics: list, create in the form, delete.
	br.Open(srv.URL + "/#/topics")
	br.WaitFor("topic rows", `document.querySelectorAll("#rows tr[data-topic]").length === 2`, 10*time.Second)
	br.Do(10*time.Second,
		chromedp.SetValue(`#create input[name=name]`, "made-in-browser"),
		chromedp.SetValue(`#create input[name=partitions]`, "4"),
		chromedp.Click(`#create button`),
	)
	br.WaitFor("created topic", `[...document.querySelectorAll("#rows tr[data-topic]")].some(r => r.dataset.topic === "made-in-browser" && r.cells[1].textContent === "4")`, 10*time.Second)
	br.Screenshot("topics")
	// The table redraws every second: click through the page, not a node
	// id that a redraw may have replaced.
	browsertest.Eval[bool](br, `(window.confirm = () => true, document.querySelector('button[data-delete="made-in-browser"]').click(), true)`)
	br.WaitFor("deleted topic", `![...document.querySelectorAll("#rows tr[data-topic]")].some(r => r.dataset.topic === "made-in-browser")`, 10*time.Second)

	// One topic: partitions and configs; set a config.
	br.Open(srv.URL + "/#/topics/orders")
	br.WaitFor("partitions", `document.querySelectorAll("#parts tr").length === 1`, 10*time.Second)
	br.WaitFor("retention override", `[...document.querySelectorAll("#configs tr")].some(r => r.cells[0].textContent === "retention.ms" && r.cells[1].textContent === "86400000" && r.cells[2].textContent === "topic")`, 10*time.Second)
	br.Do(10*time.Second,
		chromedp.SetValue(`#alter input[name=k]`, "cleanup.policy"),
		chromedp.SetValue(`#alter input[name=v]`, "compact"),
		chromedp.Click(`#alter button`),
	)
	br.WaitFor("config set", `[...document.querySelectorAll("#configs tr")].some(r => r.cells[0].textContent === "cleanup.policy" && r.cells[1].textContent === "compact")`, 10*time.Second)
	br.Screenshot("topic")

	// Message browser: JSON pretty-printed, headers, then follow live.
	br.Open(srv.URL + "/#/messages?topic=clicks&partition=0")
	br.Do(10*time.Second, chromedp.SetValue(`#q input[name=limit]`, "12"), chromedp.Click(`#q button`))
	br.WaitFor("one page", `document.querySelectorAll("#msgs tr").length === 12`, 10*time.Second)
	br.WaitFor("records", `document.querySelectorAll("#msgs tr").length > 1`, 10*time.Second)
	br.WaitFor("pretty JSON", `[...document.querySelectorAll("#msgs pre.json")].some(p => p.textContent.includes('"page": "/product/'))`, 10*time.Second)
	br.WaitFor("headers", `document.querySelector("#msgs .tag").textContent === "source=web"`, 10*time.Second)
	br.Screenshot("messages")
	br.Do(10*time.Second, chromedp.Click(`#tail`))
	br.WaitFor("live records", `document.querySelectorAll("#msgs tr td.num").length > 2`, 20*time.Second)

	// Consumer groups: list and one group's lag.
	br.Open(srv.URL + "/#/groups")
	br.WaitFor("group row", `[...document.querySelectorAll("#rows tr")].some(r => r.cells[0].textContent === "dashboard" && Number(r.cells[3].textContent.replace(/k$/, "000")) > 0)`, 10*time.Second)
	br.WaitFor("lag chart", `document.querySelectorAll("#c-lag .legend span").length >= 1`, 10*time.Second)
	br.Screenshot("groups")
	br.Open(srv.URL + "/#/groups/dashboard")
	br.WaitFor("partition lag", `[...document.querySelectorAll("#offsets tr")].some(r => r.cells[0].textContent === "clicks" && r.cells[2].textContent === "1")`, 10*time.Second)
	br.Screenshot("group")

	// Alerts: add a rule that fires at once (the group lags).
	br.Open(srv.URL + "/#/alerts")
	br.WaitFor("alerts page", `document.getElementById("add") !== null`, 10*time.Second)
	br.Do(10*time.Second,
		chromedp.SetValue(`#add input[name=name]`, "dashboard-behind"),
		chromedp.SetValue(`#add input[name=group]`, "dashboard"),
		chromedp.SetValue(`#add input[name=threshold]`, "1"),
		chromedp.SetValue(`#add input[name=for]`, "0"),
		chromedp.Click(`#add button`),
	)
	br.WaitFor("firing rule", `[...document.querySelectorAll("#rows tr")].some(r => r.dataset.alert === "dashboard-behind" && r.cells[2].textContent === "firing")`, 20*time.Second)
	br.WaitFor("firing badge", `document.getElementById("firing-count").textContent === "1"`, 10*time.Second)
	br.Screenshot("alerts")

	br.Open(srv.URL + "/#/processors")
	br.WaitFor("processors page", `document.querySelector("#rows") && document.querySelector("#rows").textContent.length > 0`, 10*time.Second)

	// A phone-sized window: the layout still works.
	br.Do(10*time.Second, chromedp.EmulateViewport(390, 844))
	br.Open(srv.URL + "/#/overview")
	br.WaitFor("overview on a phone", `/^[0-9]/.test(document.getElementById("s-rin").textContent)`, 20*time.Second)
	br.Screenshot("overview-phone")
}
