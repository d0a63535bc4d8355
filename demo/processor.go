package demo

import (
	"math"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// Window is how far back product popularity looks: each click ends a
// sliding window of this length over its product's clicks.
const Window = 30 * time.Second

// Burst detection: a product bursts when its clicks in the last
// BurstSpan of a window come at BurstFactor times the rate of the rest of
// the window, and at least BurstMin of them.
const (
	BurstSpan   = 5 * time.Second
	BurstFactor = 3
	BurstMin    = 15
)

// Popularity is the processor's aggregate of one product's clicks in one
// sliding window.
type Popularity struct {
	Views     int64   `json:"views"`
	Carts     int64   `json:"carts"`
	Purchases int64   `json:"purchases"`
	Revenue   float64 `json:"revenue"`
	// PerSecond counts the window's clicks by Unix second (for bursts).
	PerSecond map[int64]int64 `json:"per_second"`
}

func (p Popularity) add(c Click) Popularity {
	switch c.Action {
	case "view":
		p.Views++
	case "cart":
		p.Carts++
	case "purchase":
		p.Purchases++
		p.Revenue += c.Price
	}
	ps := make(map[int64]int64, len(p.PerSecond)+1)
	for s, n := range p.PerSecond {
		ps[s] = n
	}
	ps[c.Time/1000]++
	p.PerSecond = ps
	return p
}

// burst reports whether the window ending at end ends in a burst, and how
// many clicks its last BurstSpan had. The rate before is measured over the
// seconds the window has data for, and at least 10 of them are needed:
// a product is not bursting just because the demo has only started.
func (p Popularity) burst(end int64) (bool, int64) {
	cut := (end - BurstSpan.Milliseconds()) / 1000
	first := int64(math.MaxInt64)
	var recent, before int64
	for s, n := range p.PerSecond {
		first = min(first, s)
		if s > cut {
			recent += n
		} else {
			before += n
		}
	}
	restS := float64(cut - first + 1)
	if recent < BurstMin || restS < 10 {
		return false, recent
	}
	return float64(recent)/BurstSpan.Seconds() >= BurstFactor*float64(before)/restS, recent
}

// ProductStats is what the processor writes to StatsTopic: one product's
// counts over the window ending at WindowEnd.
type ProductStats struct {
	Product     string  `json:"product"`
	Name        string  `json:"name"`
	WindowStart int64   `json:"window_start"`
	WindowEnd   int64   `json:"window_end"`
	Views       int64   `json:"views"`
	Carts       int64   `json:"carts"`
	Purchases   int64   `json:"purchases"`
	Revenue     float64 `json:"revenue"`
	Burst       bool    `json:"burst"`
	RecentClick int64   `json:"recent_clicks"` // clicks in the last BurstSpan
}

// Purchase is what the processor writes to PurchasesTopic.
type Purchase struct {
	User    string  `json:"user"`
	Product string  `json:"product"`
	Name    string  `json:"name"`
	Price   float64 `json:"price"`
	Time    int64   `json:"time"`
}

// ClickRate is what the processor writes to RateTopic: the clicks of one
// second.
type ClickRate struct {
	Second int64 `json:"second"` // window start, ms
	Clicks int64 `json:"clicks"`
}

// Topology is the demo's stream processor: purchases picked out,
// product popularity in sliding windows with burst flags, clicks per
// second in tumbling one-second windows.
func Topology() (*stream.Topology, error) {
	b := stream.NewBuilder()
	clicks := stream.From(b, ClicksTopic, serde.String, serde.JSON[Click]()).
		Filter(func(_ string, c Click) bool { return c.Product != "" && c.Action != "" })

	purchases := clicks.Filter(func(_ string, c Click) bool { return c.Action == "purchase" })
	stream.MapValues(purchases, func(user string, c Click) Purchase {
		return Purchase{User: user, Product: c.Product, Name: productName(c.Product), Price: c.Price, Time: c.Time}
	}).WithSerdes(serde.String, serde.JSON[Purchase]()).To(PurchasesTopic)

	byProduct := stream.GroupBy(clicks, func(_ string, c Click) string { return c.Product }, serde.String, stream.Named("by-product"))
	popularity := stream.WindowedAggregate(stream.WindowedBy(byProduct, stream.SlidingWindows(Window).Grace(2*time.Second)),
		func() Popularity { return Popularity{} },
		func(_ string, c Click, p Popularity) Popularity { return p.add(c) },
		serde.JSON[Popularity](), stream.Named("popularity"))
	stream.Map(popularity.ToStream(), func(w stream.Windowed[string], p Popularity) (string, ProductStats) {
		burst, recent := p.burst(w.End)
		return w.Key, ProductStats{
			Product: w.Key, Name: productName(w.Key), WindowStart: w.Start, WindowEnd: w.End,
			Views: p.Views, Carts: p.Carts, Purchases: p.Purchases, Revenue: p.Revenue,
			Burst: burst, RecentClick: recent,
		}
	}).WithSerdes(serde.String, serde.JSON[ProductStats]()).To(StatsTopic)

	all := stream.GroupBy(clicks, func(string, Click) string { return "all" }, serde.String, stream.Named("all"))
	perSecond := stream.WindowedBy(all, stream.TumblingWindows(time.Second).Grace(2*time.Second)).Count(stream.Named("per-second"))
	stream.Map(perSecond.ToStream(), func(w stream.Windowed[string], n int64) (string, ClickRate) {
		return "all", ClickRate{Second: w.Start, Clicks: n}
	}).WithSerdes(serde.String, serde.JSON[ClickRate]()).To(RateTopic)
	return b.Build()
}
