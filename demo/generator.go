package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"time"
)

// Generator posts clicks to the HTTP gateway as a web shop's backend
// would: batches every tick, users browsing a catalogue whose popularity
// follows a Zipf-like curve, and now and then a flash sale that makes one
// product burst.
type Generator struct {
	// URL is the gateway's base URL (http://host:port).
	URL string
	// Rate is the clicks per second outside bursts (default 40).
	Rate float64
	// BurstEvery is how often a flash sale starts (default 20s; <0: never);
	// one lasts BurstLength (default 6s) and adds BurstRate clicks per
	// second on one product (default 3×Rate).
	BurstEvery, BurstLength time.Duration
	BurstRate               float64
	// Client posts the batches (default: a client with a 10 s timeout).
	Client *http.Client
	// Seed makes the clicks reproducible.
	Seed uint64
}

// Run posts clicks until ctx ends. A failed post is retried on the next
// tick; Run returns only ctx's error.
func (g *Generator) Run(ctx context.Context) error {
	rate, every, length, burstRate := g.Rate, g.BurstEvery, g.BurstLength, g.BurstRate
	if rate <= 0 {
		rate = 40
	}
	if every == 0 {
		every = 20 * time.Second
	}
	if length <= 0 {
		length = 6 * time.Second
	}
	if burstRate <= 0 {
		burstRate = 3 * rate
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	rng := rand.New(rand.NewPCG(g.Seed, g.Seed^0x9e3779b97f4a7c15))
	weights := make([]float64, len(Catalogue))
	var total float64
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.9)
		total += weights[i]
	}
	pick := func() Product {
		x := rng.Float64() * total
		for i, w := range weights {
			if x < w {
				return Catalogue[i]
			}
			x -= w
		}
		return Catalogue[len(Catalogue)-1]
	}
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	var owed float64
	var burstProduct Product
	burstUntil := time.Time{}
	nextBurst := start.Add(every)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			r := rate
			if every > 0 && now.After(nextBurst) {
				burstProduct, burstUntil = Catalogue[1+rng.IntN(len(Catalogue)-1)], now.Add(length)
				nextBurst = now.Add(every)
			}
			bursting := now.Before(burstUntil)
			if bursting {
				r += burstRate
			}
			owed += r * tick.Seconds()
			n := int(owed)
			owed -= float64(n)
			if n == 0 {
				continue
			}
			var recs []map[string]any
			for i := 0; i < n; i++ {
				p := pick()
				if bursting && rng.Float64() < burstRate/r {
					p = burstProduct
				}
				c := Click{User: fmt.Sprintf("u-%03d", rng.IntN(250)), Product: p.ID, Action: "view", Time: now.UnixMilli()}
				switch x := rng.Float64(); {
				case x < 0.05:
					c.Action, c.Price = "purchase", p.Price
				case x < 0.20:
					c.Action = "cart"
				}
				recs = append(recs, map[string]any{"key": c.User, "value": c, "timestamp": c.Time, "headers": map[string]string{"source": "shop-web"}})
			}
			body, _ := json.Marshal(map[string]any{"records": recs})
			g.post(ctx, client, body)
		}
	}
}

func (g *Generator) post(ctx context.Context, client *http.Client, body []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/api/v1/topics/"+ClicksTopic+"/records", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
