package nexmark

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Queries lists the queries this package implements, by name.
var Queries = []string{"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8"}

// QueryConfig holds the query parameters; zero values select Flink
// Nexmark's defaults, given in brackets.
type QueryConfig struct {
	// Q2Modulus: q2 keeps bids whose auction id is a multiple of it [123].
	Q2Modulus int64
	// Q5Size and Q5Slide are q5's sliding window [10s every 2s].
	Q5Size, Q5Slide time.Duration
	// Q7Window and Q8Window are the tumbling windows of q7 and q8 [10s].
	Q7Window, Q8Window time.Duration
}

func (qc QueryConfig) withDefaults() QueryConfig {
	if qc.Q2Modulus == 0 {
		qc.Q2Modulus = 123
	}
	if qc.Q5Size == 0 {
		qc.Q5Size = 10 * time.Second
	}
	if qc.Q5Slide == 0 {
		qc.Q5Slide = 2 * time.Second
	}
	if qc.Q7Window == 0 {
		qc.Q7Window = 10 * time.Second
	}
	if qc.Q8Window == 0 {
		qc.Q8Window = 10 * time.Second
	}
	return qc
}

// Q3States are the states q3 selects sellers from; Q3Category is the
// auction category it selects.
var Q3States = []string{"OR", "ID", "CA"}

// Q3Category is the auction category q3 selects.
const Q3Category = 10

// Rows of the queries' results in canonical text form: comma-separated
// fields, integers in decimal, times in Unix milliseconds.

// AppendBidRow appends "auction,bidder,price,dateTime,extra" (q0, q1, q7).
func AppendBidRow(dst []byte, b *Bid) []byte {
	return appendRow(dst, b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra)
}

// AppendQ2Row appends "auction,price".
func AppendQ2Row(dst []byte, auction, price int64) []byte {
	return appendRow(dst, auction, price)
}

// AppendQ3Row appends "name,city,state,auction".
func AppendQ3Row(dst []byte, p *Person, auction int64) []byte {
	return appendRow(dst, p.Name, p.City, p.State, auction)
}

// AppendQ4Row appends "category,average".
func AppendQ4Row(dst []byte, category, avg int64) []byte {
	return appendRow(dst, category, avg)
}

// AppendQ5Row appends "windowStart,auction,count".
func AppendQ5Row(dst []byte, start, auction, count int64) []byte {
	return appendRow(dst, start, auction, count)
}

// AppendQ8Row appends "person,name,windowStart".
func AppendQ8Row(dst []byte, person int64, name string, start int64) []byte {
	return appendRow(dst, person, name, start)
}

func appendRow(dst []byte, fields ...any) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch v := f.(type) {
		case int64:
			dst = strconv.AppendInt(dst, v, 10)
		case string:
			dst = append(dst, v...)
		default:
			panic(fmt.Sprintf("nexmark: row field of type %T", f))
		}
	}
	return dst
}

// Q1Price converts a price in dollars to euros, as Flink's q1 (0.908 *
// price), in integer arithmetic.
func Q1Price(p int64) int64 { return p * 908 / 1000 }

// Reference computes query q over the events of gen in the plainest way
// (whole-input passes over the generated events, no streaming), as the
// results a streaming run must reproduce. The input is bounded: as in
// Flink and in the stream library's bounded runs, event time goes to the
// end of time when it ends, so every window is reported, the last ones
// included. It keeps up to keep rows for reporting differences.
func Reference(q string, gen *Generator, qc QueryConfig, keep int) (*Digest, error) {
	return reference(q, func(f func(ev *Event)) {
		var ev Event
		for n := range gen.cfg.Events {
			gen.Event(n, &ev)
			f(&ev)
		}
	}, qc, keep)
}

// ReferenceEvents is Reference over a slice of events.
func ReferenceEvents(q string, evs []Event, qc QueryConfig, keep int) (*Digest, error) {
	return reference(q, func(f func(ev *Event)) {
		for i := range evs {
			f(&evs[i])
		}
	}, qc, keep)
}

// reference computes q; each calls its argument for every event in order,
// as many times as the query needs passes.
func reference(q string, each func(func(*Event)), qc QueryConfig, keep int) (*Digest, error) {
	qc = qc.withDefaults()
	d := NewDigest(keep)
	var row []byte
	emit := func(r []byte) { row = r; d.Add(r) }
	switch q {
	case "q0", "q1", "q2":
		each(func(ev *Event) {
			if ev.Kind != KindBid {
				return
			}
			b := ev.Bid
			switch q {
			case "q0":
				emit(AppendBidRow(row[:0], &b))
			case "q1":
				b.Price = Q1Price(b.Price)
				emit(AppendBidRow(row[:0], &b))
			case "q2":
				if b.Auction%qc.Q2Modulus == 0 {
					emit(AppendQ2Row(row[:0], b.Auction, b.Price))
				}
			}
		})
	case "q3":
		// An inner join over the whole input: arrival order does not matter.
		people := map[int64]Person{}
		var auctions []Auction
		each(func(ev *Event) {
			switch {
			case ev.Kind == KindPerson && slices.Contains(Q3States, ev.Person.State):
				people[ev.Person.ID] = ev.Person
			case ev.Kind == KindAuction && ev.Auction.Category == Q3Category:
				auctions = append(auctions, ev.Auction)
			}
		})
		for _, a := range auctions {
			if p, ok := people[a.Seller]; ok {
				emit(AppendQ3Row(row[:0], &p, a.ID))
			}
		}
	case "q4":
		// The winning (highest) bid of each auction among its bids dated
		// within the auction's open interval, then the average winning
		// price per category.
		auctions := map[int64]Auction{}
		each(func(ev *Event) {
			if ev.Kind == KindAuction {
				auctions[ev.Auction.ID] = ev.Auction
			}
		})
		best := map[int64]int64{}
		each(func(ev *Event) {
			if ev.Kind != KindBid {
				return
			}
			a, ok := auctions[ev.Bid.Auction]
			if !ok || ev.Bid.DateTime < a.DateTime || ev.Bid.DateTime > a.Expires {
				return
			}
			if p, seen := best[a.ID]; !seen || ev.Bid.Price > p {
				best[a.ID] = ev.Bid.Price
			}
		})
		type sum struct{ total, n int64 }
		cats := map[int64]sum{}
		for id, p := range best {
			c := cats[auctions[id].Category]
			cats[auctions[id].Category] = sum{c.total + p, c.n + 1}
		}
		for cat, s := range cats {
			emit(AppendQ4Row(row[:0], cat, s.total/s.n))
		}
	case "q5":
		size, slide := qc.Q5Size.Milliseconds(), qc.Q5Slide.Milliseconds()
		counts := map[int64]map[int64]int64{} // window start -> auction -> bids
		each(func(ev *Event) {
			if ev.Kind != KindBid {
				return
			}
			t := ev.Bid.DateTime
			for start := floorDiv(t, slide) * slide; start > t-size; start -= slide {
				w := counts[start]
				if w == nil {
					w = map[int64]int64{}
					counts[start] = w
				}
				w[ev.Bid.Auction]++
			}
		})
		for start, w := range counts {
			var top int64
			for _, c := range w {
				top = max(top, c)
			}
			for a, c := range w {
				if c == top {
					emit(AppendQ5Row(row[:0], start, a, c))
				}
			}
		}
	case "q7":
		size := qc.Q7Window.Milliseconds()
		top := map[int64][]Bid{} // window start -> bids at the window's highest price
		each(func(ev *Event) {
			if ev.Kind != KindBid {
				return
			}
			start := floorDiv(ev.Bid.DateTime, size) * size
			bs := top[start]
			switch {
			case len(bs) == 0 || ev.Bid.Price > bs[0].Price:
				top[start] = append(bs[:0], ev.Bid)
			case ev.Bid.Price == bs[0].Price:
				top[start] = append(bs, ev.Bid)
			}
		})
		for _, bs := range top {
			for i := range bs {
				emit(AppendBidRow(row[:0], &bs[i]))
			}
		}
	case "q8":
		size := qc.Q8Window.Milliseconds()
		type key struct{ id, start int64 }
		people := map[key]string{}
		sellers := map[key]bool{}
		each(func(ev *Event) {
			switch ev.Kind {
			case KindPerson:
				people[key{ev.Person.ID, floorDiv(ev.Person.DateTime, size) * size}] = ev.Person.Name
			case KindAuction:
				sellers[key{ev.Auction.Seller, floorDiv(ev.Auction.DateTime, size) * size}] = true
			}
		})
		for k, name := range people {
			if sellers[k] {
				emit(AppendQ8Row(row[:0], k.id, name, k.start))
			}
		}
	default:
		return nil, fmt.Errorf("nexmark: unknown query %q (known: %v)", q, Queries)
	}
	return d, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
