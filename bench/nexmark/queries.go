package nexmark

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// The queries written with Eddy's stream DSL. Each reads the events topic
// (no keys; the record timestamp is the event's date time) and writes its
// output topic in the form readOutput expects.

// OptionalBid is a bid, or nothing (OK false) for another kind of event:
// the queries that only look at bids decode with OptionalBidSerde, which
// skips people and auctions without decoding (or allocating for) them.
type OptionalBid struct {
	Bid Bid
	OK  bool
}

// OptionalBidSerde decodes bids and turns other events into an empty
// OptionalBid.
type OptionalBidSerde struct{}

// Encode appends the bid's encoding (nothing for an empty OptionalBid).
func (OptionalBidSerde) Encode(dst []byte, v OptionalBid) ([]byte, error) {
	if !v.OK {
		return dst, nil
	}
	return AppendBid(dst, &v.Bid), nil
}

// Decode decodes a bid; other valid kinds give an empty OptionalBid.
func (OptionalBidSerde) Decode(b []byte) (OptionalBid, error) {
	if len(b) > 0 && (Kind(b[0]) == KindPerson || Kind(b[0]) == KindAuction) {
		return OptionalBid{}, nil
	}
	var v OptionalBid
	err := DecodeBid(b, &v.Bid)
	v.OK = err == nil
	return v, err
}

// noKey is the key of the events topic's records (they have none).
type noKey = struct{}

// buildQuery adds query q, reading in and writing out, to b.
func buildQuery(b *stream.Builder, q, in, out string, qc QueryConfig) error {
	qc = qc.withDefaults()
	switch q {
	case "q0", "q1", "q2":
		bids := stream.MapValues(
			stream.From(b, in, serde.Void, OptionalBidSerde{}, stream.Named("events")).
				Filter(func(_ noKey, v OptionalBid) bool { return v.OK }, stream.Named("bids")),
			func(_ noKey, v OptionalBid) Bid { return v.Bid })
		switch q {
		case "q0":
			bids.WithSerdes(serde.Void, BidSerde{}).To(out)
		case "q1":
			stream.MapValues(bids, func(_ noKey, b Bid) Bid {
				b.Price = Q1Price(b.Price)
				return b
			}).WithSerdes(serde.Void, BidSerde{}).To(out)
		case "q2":
			mod := qc.Q2Modulus
			stream.MapValues(bids.Filter(func(_ noKey, b Bid) bool { return b.Auction%mod == 0 }),
				func(_ noKey, b Bid) []byte { return AppendQ2Row(nil, b.Auction, b.Price) }).
				WithSerdes(serde.Void, serde.Bytes).To(out)
		}
	case "q3":
		buildQ3(b, in, out)
	case "q4":
		buildQ4(b, in, out)
	case "q5":
		buildQ5(b, in, out, qc)
	case "q7":
		buildQ7(b, in, out, qc)
	case "q8":
		buildQ8(b, in, out, qc)
	default:
		return fmt.Errorf("nexmark: query %s is not written with the stream DSL yet", q)
	}
	return nil
}

// events reads the events topic as Events.
func events(b *stream.Builder, in string) *stream.Stream[noKey, Event] {
	return stream.From(b, in, serde.Void, EventSerde{}, stream.Named("events"))
}

// q3 (local item suggestion): who sells in category 10 in Oregon, Idaho or
// California: an inner join of people and auctions on seller = id, as
// Flink's regular join: whichever side arrives first waits in a store for
// the other. Output: a changelog keyed by auction id, value one row.
func buildQ3(b *stream.Builder, in, out string) {
	evs := events(b, in)
	people := stream.SelectKey(evs.Filter(func(_ noKey, e Event) bool {
		return e.Kind == KindPerson && slices.Contains(Q3States, e.Person.State)
	}), func(_ noKey, e Event) int64 { return e.Person.ID })
	auctions := stream.SelectKey(evs.Filter(func(_ noKey, e Event) bool {
		return e.Kind == KindAuction && e.Auction.Category == Q3Category
	}), func(_ noKey, e Event) int64 { return e.Auction.Seller })
	joined := people.Merge(auctions).WithSerdes(serde.Int64, EventSerde{}).Repartition(stream.Named("q3-by-person"))
	stream.AddKeyValueStore(b, "q3-people", serde.Int64, serde.String)
	stream.AddKeyValueStore(b, "q3-waiting", serde.Int64, int64sSerde{})
	stream.Process(joined, func() stream.Processor[int64, Event, int64, []byte] { return &q3Join{} },
		stream.WithStores("q3-people", "q3-waiting"), stream.Named("q3-join")).
		WithSerdes(serde.Int64, serde.Bytes).To(out)
}

// q3Join joins people (stored as their "name,city,state" prefix) with
// their auctions (waiting by id until the person arrives).
type q3Join struct {
	ctx     *stream.ProcessorContext[int64, []byte]
	people  stream.KeyValueStore[int64, string]
	waiting stream.KeyValueStore[int64, []int64]
}

func (j *q3Join) Init(ctx *stream.ProcessorContext[int64, []byte]) (err error) {
	j.ctx = ctx
	if j.people, err = stream.GetKeyValueStore[int64, string](ctx, "q3-people"); err != nil {
		return err
	}
	j.waiting, err = stream.GetKeyValueStore[int64, []int64](ctx, "q3-waiting")
	return err
}

func (j *q3Join) emit(prefix string, auction int64, ts int64) {
	row := strings.Join([]string{prefix, fmt.Sprint(auction)}, ",")
	j.ctx.Forward(stream.Record[int64, []byte]{Key: auction, Value: []byte(row), Timestamp: ts})
}

func (j *q3Join) Process(r stream.Record[int64, Event]) error {
	e := &r.Value
	if e.Kind == KindPerson {
		prefix := string(appendRow(nil, e.Person.Name, e.Person.City, e.Person.State))
		if err := j.people.Put(r.Key, prefix); err != nil {
			return err
		}
		ids, ok, err := j.waiting.Get(r.Key)
		if err != nil || !ok {
			return err
		}
		for _, id := range ids {
			j.emit(prefix, id, r.Timestamp)
		}
		return j.waiting.Delete(r.Key)
	}
	prefix, ok, err := j.people.Get(r.Key)
	if err != nil {
		return err
	}
	if ok {
		j.emit(prefix, e.Auction.ID, r.Timestamp)
		return nil
	}
	ids, _, err := j.waiting.Get(r.Key)
	if err != nil {
		return err
	}
	return j.waiting.Put(r.Key, append(ids, e.Auction.ID))
}

func (j *q3Join) Close() error { return nil }

// q4 (average price per category): the winning bid of each auction is its
// highest bid dated within the auction's open interval; the output is the
// average winning price per category, updated as winners change. The
// join of auctions and bids by auction id (whichever arrives first waits,
// as in Flink's regular join) emits each change of an auction's winning
// price as a delta to its category's sum and count; an Aggregate sums the
// deltas per category. Output: a changelog keyed by category.
func buildQ4(b *stream.Builder, in, out string) {
	evs := events(b, in)
	auctions := stream.SelectKey(evs.Filter(func(_ noKey, e Event) bool { return e.Kind == KindAuction }),
		func(_ noKey, e Event) int64 { return e.Auction.ID })
	bids := stream.SelectKey(evs.Filter(func(_ noKey, e Event) bool { return e.Kind == KindBid }),
		func(_ noKey, e Event) int64 { return e.Bid.Auction })
	joined := auctions.Merge(bids).WithSerdes(serde.Int64, EventSerde{}).Repartition(stream.Named("q4-by-auction"))
	stream.AddKeyValueStore(b, "q4-auctions", serde.Int64, q4AuctionSerde{})
	deltas := stream.Process(joined, func() stream.Processor[int64, Event, int64, sumCount] { return &q4Winners{} },
		stream.WithStores("q4-auctions"), stream.Named("q4-winners"))
	sums := stream.Aggregate(deltas.WithSerdes(serde.Int64, sumCountSerde{}).GroupByKey(stream.Named("q4-by-category")),
		func() sumCount { return sumCount{} },
		func(_ int64, d sumCount, agg sumCount) sumCount {
			return sumCount{agg.Sum + d.Sum, agg.Count + d.Count}
		},
		sumCountSerde{}, stream.Named("q4-sums"))
	stream.MapValues(sums.ToStream(), func(cat int64, s sumCount) []byte {
		if s.Count == 0 {
			return nil
		}
		return AppendQ4Row(nil, cat, s.Sum/s.Count)
	}).WithSerdes(serde.Int64, serde.Bytes).To(out)
}

// sumCount is a sum and a count, or a change to them.
type sumCount struct{ Sum, Count int64 }

type sumCountSerde struct{}

func (sumCountSerde) Encode(dst []byte, v sumCount) ([]byte, error) {
	return binary.AppendVarint(binary.AppendVarint(dst, v.Sum), v.Count), nil
}

func (sumCountSerde) Decode(b []byte) (sumCount, error) {
	d := decoder{b: b}
	v := sumCount{d.int(), d.int()}
	return v, d.finish(KindBid)
}

// q4Auction is what q4 keeps per auction id: the auction (once seen) and
// its winning price so far, or the bids that came before the auction.
type q4Auction struct {
	Seen                        bool
	Category, DateTime, Expires int64
	Winning                     int64 // 0: no bid within the interval yet
	Early                       []earlyBid
}

type earlyBid struct{ DateTime, Price int64 }

type q4AuctionSerde struct{}

func (q4AuctionSerde) Encode(dst []byte, v q4Auction) ([]byte, error) {
	seen := int64(0)
	if v.Seen {
		seen = 1
	}
	for _, x := range []int64{seen, v.Category, v.DateTime, v.Expires, v.Winning, int64(len(v.Early))} {
		dst = binary.AppendVarint(dst, x)
	}
	for _, e := range v.Early {
		dst = binary.AppendVarint(binary.AppendVarint(dst, e.DateTime), e.Price)
	}
	return dst, nil
}

func (q4AuctionSerde) Decode(b []byte) (q4Auction, error) {
	d := decoder{b: b}
	v := q4Auction{Seen: d.int() == 1, Category: d.int(), DateTime: d.int(), Expires: d.int(), Winning: d.int()}
	n := d.int()
	if n < 0 || n > int64(len(b)) {
		return v, fmt.Errorf("%w: bad q4 state", ErrCorrupt)
	}
	for range n {
		v.Early = append(v.Early, earlyBid{d.int(), d.int()})
	}
	return v, d.finish(KindAuction)
}

type q4Winners struct {
	ctx   *stream.ProcessorContext[int64, sumCount]
	store stream.KeyValueStore[int64, q4Auction]
}

func (w *q4Winners) Init(ctx *stream.ProcessorContext[int64, sumCount]) (err error) {
	w.ctx = ctx
	w.store, err = stream.GetKeyValueStore[int64, q4Auction](ctx, "q4-auctions")
	return err
}

func (w *q4Winners) Process(r stream.Record[int64, Event]) error {
	st, _, err := w.store.Get(r.Key)
	if err != nil {
		return err
	}
	old := st.Winning
	switch e := &r.Value; e.Kind {
	case KindAuction:
		st.Seen, st.Category, st.DateTime, st.Expires = true, e.Auction.Category, e.Auction.DateTime, e.Auction.Expires
		for _, eb := range st.Early {
			st.offer(eb.DateTime, eb.Price)
		}
		st.Early = nil
	case KindBid:
		if !st.Seen {
			st.Early = append(st.Early, earlyBid{e.Bid.DateTime, e.Bid.Price})
			return w.store.Put(r.Key, st)
		}
		st.offer(e.Bid.DateTime, e.Bid.Price)
	}
	if st.Winning != old {
		d := sumCount{Sum: st.Winning - old}
		if old == 0 {
			d.Count = 1
		}
		w.ctx.Forward(stream.Record[int64, sumCount]{Key: st.Category, Value: d, Timestamp: r.Timestamp})
	}
	return w.store.Put(r.Key, st)
}

// offer takes a bid into account if it is dated within the auction.
func (st *q4Auction) offer(ts, price int64) {
	if ts >= st.DateTime && ts <= st.Expires && price > st.Winning {
		st.Winning = price
	}
}

func (w *q4Winners) Close() error { return nil }

// int64sSerde encodes a list of int64 as varints.
type int64sSerde struct{}

func (int64sSerde) Encode(dst []byte, v []int64) ([]byte, error) {
	for _, x := range v {
		dst = binary.AppendVarint(dst, x)
	}
	return dst, nil
}

func (int64sSerde) Decode(b []byte) ([]int64, error) {
	var v []int64
	for len(b) > 0 {
		x, n := binary.Varint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad id list", ErrCorrupt)
		}
		v = append(v, x)
		b = b[n:]
	}
	return v, nil
}
