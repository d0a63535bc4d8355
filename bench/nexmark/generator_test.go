package nexmark

import (
	"slices"
	"testing"
	"time"
)

// testBaseTime is the base time of every generator the tests make, so that
// two generators of one configuration agree even across midnight.
var testBaseTime = time.Now().UnixMilli()

func newGen(t testing.TB, cfg Config) *Generator {
	t.Helper()
	if cfg.BaseTime == 0 {
		cfg.BaseTime = testBaseTime
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGeneratorShape checks the generator's distributions against the
// parameters: the 1:3:46 mix, ids, times, hot auctions and bidders, the
// average sizes, the categories and states.
func TestGeneratorShape(t *testing.T) {
	g := newGen(t, Config{Events: 50_000})
	evs := g.All()
	var kinds [3]int
	var size [3]int
	hotAuction, hotBidder := 0, 0
	var prevTime int64
	people, auctions := map[int64]bool{}, map[int64]bool{}
	var buf []byte
	for i := range evs {
		ev := &evs[i]
		kinds[ev.Kind]++
		buf = AppendEvent(buf[:0], ev)
		size[ev.Kind] += len(buf)
		if ev.Time() < prevTime {
			t.Fatalf("event %d: time goes back", i)
		}
		prevTime = ev.Time()
		switch ev.Kind {
		case KindPerson:
			if people[ev.Person.ID] {
				t.Fatalf("person %d twice", ev.Person.ID)
			}
			people[ev.Person.ID] = true
			if !slices.Contains(usStates, ev.Person.State) || len(ev.Person.CreditCard) != 19 {
				t.Fatalf("bad person %+v", ev.Person)
			}
		case KindAuction:
			a := ev.Auction
			if auctions[a.ID] || a.Category < FirstCategoryID || a.Category >= FirstCategoryID+numCategories ||
				a.Expires <= a.DateTime || a.Reserve < a.InitialBid || a.Seller < FirstPersonID {
				t.Fatalf("bad auction %+v", a)
			}
			auctions[a.ID] = true
		case KindBid:
			b := ev.Bid
			if b.Auction%hotAuctionRatio == 0 {
				hotAuction++
			}
			if (b.Bidder-FirstPersonID)%hotBidderRatio == 1 {
				hotBidder++
			}
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("bad price %d", b.Price)
			}
		}
	}
	if kinds != [3]int{1000, 3000, 46000} {
		t.Fatalf("kinds %v, want 1000:3000:46000", kinds)
	}
	// Half the bids go to the hot auction, three quarters come from hot
	// bidders (plus the random picks that happen to hit one).
	if f := float64(hotAuction) / 46000; f < 0.49 || f > 0.53 {
		t.Errorf("hot auction fraction %.3f, want about 0.5", f)
	}
	if f := float64(hotBidder) / 46000; f < 0.74 || f > 0.77 {
		t.Errorf("hot bidder fraction %.3f, want about 0.75", f)
	}
	// Encoded sizes stay near the configured averages.
	for k, want := range []int{200, 500, 100} {
		avg := size[k] / kinds[k]
		if avg < want*8/10 || avg > want*12/10 {
			t.Errorf("%v: average encoded size %d, want about %d", Kind(k), avg, want)
		}
	}
	// 50,000 events at 10,000/s span five seconds.
	if got := evs[len(evs)-1].Time() - evs[0].Time(); got != 4999 {
		t.Errorf("time span %dms, want 4999", got)
	}
}

// TestGeneratorDeterministic checks that an event depends only on its number.
func TestGeneratorDeterministic(t *testing.T) {
	a := newGen(t, Config{Events: 1000}).All()
	g := newGen(t, Config{Events: 1000})
	for _, n := range []int64{999, 3, 500, 0} {
		var ev Event
		g.Event(n, &ev)
		if ev != a[n] {
			t.Fatalf("event %d differs: %+v vs %+v", n, ev, a[n])
		}
	}
}

func TestJavaRandom(t *testing.T) {
	// Values of new java.util.Random(42): nextInt(), nextInt(100), nextLong().
	r := newJavaRandom(42)
	if v := r.int32(); v != -1170105035 {
		t.Fatalf("nextInt() = %d", v)
	}
	if v := r.intn(100); v != 63 {
		t.Fatalf("nextInt(100) = %d", v)
	}
	r = newJavaRandom(42)
	if v := r.float64(); v != 0.7275636800328681 {
		t.Fatalf("nextDouble() = %v", v)
	}
}

func TestNewGeneratorErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Events: -1}, {Events: 1, EventsPerSecond: -1}, {Events: 1, HotAuctionRatio: -1}} {
		if _, err := NewGenerator(cfg); err == nil {
			t.Errorf("NewGenerator(%+v): no error", cfg)
		}
	}
}
