package demo

import (
	"testing"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

// TestProcessorCountsAndFlagsBursts runs the demo's topology in memory
// with controlled time: popularity per product over the sliding window,
// purchases picked out, clicks per second, and a burst flagged only when a
// product's recent clicks outpace its own earlier rate.
func TestProcessorCountsAndFlagsBursts(t *testing.T) {
	top, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	d := streamtest.New(t, top, streamtest.AppID(AppID))
	in := streamtest.Input(d, ClicksTopic, serde.String, serde.JSON[Click]())
	stats := streamtest.Output(d, StatsTopic, serde.String, serde.JSON[ProductStats]())
	buys := streamtest.Output(d, PurchasesTopic, serde.String, serde.JSON[Purchase]())
	rates := streamtest.Output(d, RateTopic, serde.String, serde.JSON[ClickRate]())

	t0 := int64(1_700_000_000_000)
	pipe := func(user, product, action string, price float64, ts int64) {
		in.Pipe(user, Click{User: user, Product: product, Action: action, Price: price, Time: ts}, ts)
	}
	// 20 s of a steady click a second on the mug, one purchase.
	for i := int64(0); i < 20; i++ {
		action, price := "view", 0.0
		if i == 5 {
			action, price = "purchase", 14
		}
		pipe("u-1", "p-mug", action, price, t0+i*1000)
	}
	latest := map[string]ProductStats{}
	drain := func() {
		for !stats.IsEmpty() {
			r := stats.ReadRecord()
			latest[r.Key] = r.Value
		}
	}
	drain()
	mug := latest["p-mug"]
	if mug.Views != 19 || mug.Purchases != 1 || mug.Revenue != 14 || mug.Name != "Stoneware mug" || mug.WindowEnd != t0+19000 || mug.Burst {
		t.Fatalf("mug after 20 s: %+v", mug)
	}
	if b := buys.ReadRecord(); b.Key != "u-1" || b.Value.Product != "p-mug" || b.Value.Price != 14 || b.Value.Time != t0+5000 || !buys.IsEmpty() {
		t.Fatalf("purchase %+v", b)
	}
	perSecond := map[int64]int64{}
	for !rates.IsEmpty() {
		r := rates.ReadRecord()
		perSecond[r.Value.Second] = r.Value.Clicks
	}
	if perSecond[t0] != 1 || perSecond[t0+19000] != 1 {
		t.Fatalf("clicks per second: %v", perSecond)
	}

	// Then 30 views of the mug within 3 s: a burst.
	for i := int64(0); i < 30; i++ {
		pipe("u-2", "p-mug", "view", 0, t0+20000+i*100)
	}
	drain()
	if mug := latest["p-mug"]; !mug.Burst || mug.RecentClick < BurstMin {
		t.Fatalf("mug after the burst: %+v", mug)
	}
	// The same 30 views spread over 30 s on another product: no burst.
	for i := int64(0); i < 30; i++ {
		pipe("u-3", "p-kettle", "view", 0, t0+23000+i*1000)
	}
	drain()
	if k := latest["p-kettle"]; k.Burst || k.Views != 30 || k.WindowEnd-k.WindowStart != Window.Milliseconds() {
		t.Fatalf("kettle: %+v", k)
	}
	// 30 s after the burst it has left the mug's window.
	pipe("u-1", "p-mug", "view", 0, t0+55000)
	drain()
	if mug := latest["p-mug"]; mug.Burst || mug.Views != 1 {
		t.Fatalf("mug 30 s after the burst: %+v", mug)
	}
	if n := d.Metrics().RecordsProcessed.Load(); n == 0 {
		t.Fatal("no records processed")
	}
}
