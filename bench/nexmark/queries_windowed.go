package nexmark

import (
	"encoding/binary"
	"fmt"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// The windowed queries (q5, q7, q8) emit each window's result when the
// window closes: when the event time of the records reaching the window
// (stream time) passes its end, or when the bounded run's input ends
// (stream time goes to stream.EndOfTime) for the windows still open then.

// bids reads the events topic's bids.
func bids(b *stream.Builder, in string) *stream.Stream[noKey, Bid] {
	return stream.MapValues(
		stream.From(b, in, serde.Void, OptionalBidSerde{}, stream.Named("events")).
			Filter(func(_ noKey, v OptionalBid) bool { return v.OK }, stream.Named("bids")),
		func(_ noKey, v OptionalBid) Bid { return v.Bid })
}

// pair is a composite key of two int64s (id and window start).
type pair struct{ A, B int64 }

type pairSerde struct{}

func (pairSerde) Encode(dst []byte, v pair) ([]byte, error) {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(dst, uint64(v.A)), uint64(v.B)), nil
}

func (pairSerde) Decode(b []byte) (pair, error) {
	if len(b) != 16 {
		return pair{}, fmt.Errorf("%w: key of %d bytes, want 16", ErrCorrupt, len(b))
	}
	return pair{int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// q5 (hot items): in each sliding window (10s every 2s), the auctions with
// the most bids. Bids are counted per auction in hopping windows, each
// window's counts emitted once when it closes; each count is offered to its
// window's leaderboard, which keeps the highest count and the auctions
// that reached it.
func buildQ5(b *stream.Builder, in, out string, qc QueryConfig) {
	byAuction := stream.SelectKey(bids(b, in), func(_ noKey, bid Bid) int64 { return bid.Auction }).
		WithSerdes(serde.Int64, BidSerde{}).GroupByKey(stream.Named("q5-by-auction"))
	counts := stream.WindowedBy(byAuction, stream.HoppingWindows(qc.Q5Size, qc.Q5Slide)).EmitFinal().
		Count(stream.Named("q5-counts"))
	offers := stream.Map(counts.ToStream(), func(k stream.Windowed[int64], n int64) (int64, pair) {
		return k.Start, pair{k.Key, n}
	})
	tops := stream.Aggregate(offers.WithSerdes(serde.Int64, pairSerde{}).GroupByKey(stream.Named("q5-by-window")),
		func() top { return top{} },
		func(_ int64, o pair, t top) top { return t.offer(o.A, o.B) },
		topSerde{}, stream.Named("q5-tops"))
	stream.MapValues(tops.ToStream(), func(start int64, t top) []byte {
		var rows []byte
		for i, a := range t.IDs {
			if i > 0 {
				rows = append(rows, '\n')
			}
			rows = AppendQ5Row(rows, start, a, t.Count)
		}
		return rows
	}).WithSerdes(serde.Int64, serde.Bytes).To(out)
}

// top is a leaderboard: the highest count offered and the ids offered with
// it (each id is offered once).
type top struct {
	Count int64
	IDs   []int64
}

func (t top) offer(id, n int64) top {
	switch {
	case n > t.Count:
		return top{Count: n, IDs: append(t.IDs[:0], id)}
	case n == t.Count:
		t.IDs = append(t.IDs, id)
	}
	return t
}

type topSerde struct{}

func (topSerde) Encode(dst []byte, v top) ([]byte, error) {
	dst = binary.AppendVarint(dst, v.Count)
	return int64sSerde{}.Encode(dst, v.IDs)
}

func (topSerde) Decode(b []byte) (top, error) {
	c, n := binary.Varint(b)
	if n <= 0 {
		return top{}, fmt.Errorf("%w: bad leaderboard", ErrCorrupt)
	}
	ids, err := int64sSerde{}.Decode(b[n:])
	return top{Count: c, IDs: ids}, err
}

// q7 (highest bid): in each tumbling window (10s), the bids at the highest
// price, emitted when the window closes. All bids go to one key, as the
// window's maximum is global (Flink computes it with parallelism 1 too).
func buildQ7(b *stream.Builder, in, out string, qc QueryConfig) {
	all := stream.SelectKey(bids(b, in), func(noKey, Bid) int64 { return 0 }).
		WithSerdes(serde.Int64, BidSerde{}).GroupByKey(stream.Named("q7-all"))
	best := stream.WindowedAggregate(stream.WindowedBy(all, stream.TumblingWindows(qc.Q7Window)).EmitFinal(),
		func() topBids { return topBids{} },
		func(_ int64, bid Bid, t topBids) topBids {
			switch {
			case len(t) == 0 || bid.Price > t[0].Price:
				return append(t[:0], bid)
			case bid.Price == t[0].Price:
				return append(t, bid)
			}
			return t
		}, topBidsSerde{}, stream.Named("q7-best"))
	stream.Map(best.ToStream(), func(w stream.Windowed[int64], t topBids) (int64, []byte) {
		var rows []byte
		for i := range t {
			if i > 0 {
				rows = append(rows, '\n')
			}
			rows = AppendBidRow(rows, &t[i])
		}
		return w.Start, rows
	}).WithSerdes(serde.Int64, serde.Bytes).To(out)
}

// topBids are the bids at a window's highest price so far.
type topBids []Bid

type topBidsSerde struct{}

func (topBidsSerde) Encode(dst []byte, v topBids) ([]byte, error) {
	for i := range v {
		var tmp [128]byte
		e := AppendBid(tmp[:0], &v[i])
		dst = binary.AppendUvarint(dst, uint64(len(e)))
		dst = append(dst, e...)
	}
	return dst, nil
}

func (topBidsSerde) Decode(b []byte) (topBids, error) {
	var v topBids
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad bid list", ErrCorrupt)
		}
		var bid Bid
		if err := DecodeBid(b[n:n+int(l)], &bid); err != nil {
			return nil, err
		}
		v = append(v, bid)
		b = b[n+int(l):]
	}
	return v, nil
}

// q8 (monitor new users): people who created auctions in the tumbling
// window (10s) in which they registered. People and auctions are grouped
// by person in tumbling windows; an aggregate notes which sides were seen,
// and each window's result is emitted when it closes.
func buildQ8(b *stream.Builder, in, out string, qc QueryConfig) {
	sides := stream.FlatMap(events(b, in), func(_ noKey, e Event, emit func(int64, q8Seen)) {
		switch e.Kind {
		case KindPerson:
			emit(e.Person.ID, q8Seen{Name: e.Person.Name, Person: true})
		case KindAuction:
			emit(e.Auction.Seller, q8Seen{Auction: true})
		}
	}, stream.Named("q8-sides"))
	byPerson := sides.WithSerdes(serde.Int64, q8SeenSerde{}).GroupByKey(stream.Named("q8-by-person"))
	seen := stream.WindowedAggregate(stream.WindowedBy(byPerson, stream.TumblingWindows(qc.Q8Window)).EmitFinal(),
		func() q8Seen { return q8Seen{} },
		func(_ int64, s q8Seen, agg q8Seen) q8Seen {
			if s.Person {
				agg.Name, agg.Person = s.Name, true
			}
			agg.Auction = agg.Auction || s.Auction
			return agg
		}, q8SeenSerde{}, stream.Named("q8-seen"))
	matched := seen.ToStream().Filter(func(_ stream.Windowed[int64], s q8Seen) bool { return s.Person && s.Auction })
	stream.Map(matched, func(w stream.Windowed[int64], s q8Seen) (pair, []byte) {
		return pair{w.Key, w.Start}, AppendQ8Row(nil, w.Key, s.Name, w.Start)
	}).WithSerdes(pairSerde{}, serde.Bytes).To(out)
}

// q8Seen says which sides of q8's join were seen for a (person, window).
type q8Seen struct {
	Name            string
	Person, Auction bool
}

type q8SeenSerde struct{}

func (q8SeenSerde) Encode(dst []byte, v q8Seen) ([]byte, error) {
	var flags byte
	if v.Person {
		flags |= 1
	}
	if v.Auction {
		flags |= 2
	}
	return append(append(dst, flags), v.Name...), nil
}

func (q8SeenSerde) Decode(b []byte) (q8Seen, error) {
	if len(b) == 0 || b[0] > 3 {
		return q8Seen{}, fmt.Errorf("%w: bad q8 state", ErrCorrupt)
	}
	return q8Seen{Name: string(b[1:]), Person: b[0]&1 != 0, Auction: b[0]&2 != 0}, nil
}
