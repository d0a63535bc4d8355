package nexmark

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSerdeRoundTrip(t *testing.T) {
	evs := newGen(t, Config{Events: 500}).All()
	var buf []byte
	for i := range evs {
		buf = AppendEvent(buf[:0], &evs[i])
		var got Event
		if err := DecodeEvent(buf, &got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got != evs[i] {
			t.Fatalf("event %d: got %+v, want %+v", i, got, evs[i])
		}
		if evs[i].Kind == KindBid {
			var b Bid
			if err := DecodeBid(buf, &b); err != nil || b != evs[i].Bid {
				t.Fatalf("DecodeBid: %+v, %v", b, err)
			}
		}
		// Every truncation is an error, never a panic.
		for cut := range len(buf) {
			if err := DecodeEvent(buf[:cut], &got); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("event %d cut at %d: err %v", i, cut, err)
			}
		}
	}
	if err := DecodeEvent([]byte{7}, new(Event)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown kind: %v", err)
	}
}

// TestAppendSizesExactly: encoding into a buffer with exactly the room the
// encoding takes does not allocate (the size AppendEvent reserves is
// exact, so a caller sizing buffers by earlier encodings never pays twice).
func TestAppendSizesExactly(t *testing.T) {
	evs := newGen(t, Config{Events: 500}).All()
	evs = append(evs,
		Event{Kind: KindBid, Bid: Bid{Auction: math.MinInt64, Bidder: math.MaxInt64, Price: -1, DateTime: 63, Extra: strings.Repeat("x", 300)}},
		Event{Kind: KindPerson, Person: Person{ID: -64, DateTime: 64, Name: "n"}},
		Event{Kind: KindAuction, Auction: Auction{ID: 1 << 62, Seller: -(1 << 62), Description: strings.Repeat("d", 127)}})
	for i := range evs {
		n := len(AppendEvent(nil, &evs[i]))
		dst := make([]byte, 1, n+1)
		if got := AppendEvent(dst, &evs[i]); &got[0] != &dst[0] || len(got) != n+1 {
			t.Fatalf("event %d (%+v): encoding of %d bytes reallocated a buffer with room for it", i, evs[i], n)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	evs := newGen(f, Config{Events: 50}).All()
	for i := range evs {
		f.Add(AppendEvent(nil, &evs[i]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if DecodeEvent(b, &ev) == nil {
			if again := AppendEvent(nil, &ev); string(again) != string(b) {
				// Varints have one canonical form per value only when
				// minimal; accept non-minimal input but require a
				// stable re-encoding.
				var ev2 Event
				if err := DecodeEvent(again, &ev2); err != nil || ev2 != ev {
					t.Fatalf("re-encoding differs: %v", err)
				}
			}
		}
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	evs := newGen(b, Config{Events: 5000}).All()
	var bufs [][]byte
	var n int
	for i := range evs {
		e := AppendEvent(nil, &evs[i])
		bufs = append(bufs, e)
		n += len(e)
	}
	b.SetBytes(int64(n / len(bufs)))
	b.ReportAllocs()
	var ev Event
	for i := 0; b.Loop(); i++ {
		if err := DecodeEvent(bufs[i%len(bufs)], &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := newGen(b, Config{Events: 1 << 40})
	b.ReportAllocs()
	var ev Event
	var buf []byte
	for i := int64(0); b.Loop(); i++ {
		g.Event(i, &ev)
		buf = AppendEvent(buf[:0], &ev)
	}
}
