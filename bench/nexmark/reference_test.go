package nexmark

import (
	"strings"
	"testing"
	"time"
)

func person(id, ts int64, name, state string) Event {
	return Event{Kind: KindPerson, Person: Person{ID: id, Name: name, City: "Boise", State: state, DateTime: ts}}
}

func auction(id, seller, cat, ts, expires int64) Event {
	return Event{Kind: KindAuction, Auction: Auction{ID: id, Seller: seller, Category: cat, DateTime: ts, Expires: expires}}
}

func bid(auction, bidder, price, ts int64) Event {
	return Event{Kind: KindBid, Bid: Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts, Extra: "x"}}
}

// TestReferenceByHand checks each reference query on a few events whose
// results are worked out by hand.
func TestReferenceByHand(t *testing.T) {
	evs := []Event{
		person(1, 0, "Ann", "OR"),
		person(2, 100, "Bob", "WA"),
		auction(10, 1, 10, 200, 5000),   // Ann's, category 10
		auction(11, 2, 10, 300, 20_000), // Bob's: WA is not selected by q3
		auction(123, 3, 11, 400, 900),   // seller 3 arrives later
		bid(10, 2, 500, 1000),
		bid(10, 2, 700, 4000),
		bid(10, 2, 900, 6000), // after auction 10 expired
		bid(123, 1, 50, 800),
		bid(11, 1, 900, 12_000),
		person(3, 1200, "Cy", "CA"),
		auction(12, 3, 10, 1300, 9000), // Cy's, category 10: joins with a person seen before
	}
	qc := QueryConfig{Q5Size: 4 * time.Second, Q5Slide: 2 * time.Second, Q7Window: 5 * time.Second, Q8Window: 10 * time.Second}
	want := map[string][]string{
		"q0": {"10,2,500,1000,x", "10,2,700,4000,x", "10,2,900,6000,x", "123,1,50,800,x", "11,1,900,12000,x"},
		"q1": {"10,2,454,1000,x", "10,2,635,4000,x", "10,2,817,6000,x", "123,1,45,800,x", "11,1,817,12000,x"},
		"q2": {"123,50"},
		"q3": {"Ann,Boise,OR,10", "Cy,Boise,CA,12"},
		// auction 10: max 700 (900 came after it expired); 11: 900; both
		// category 10 -> 800. Auction 123 (category 11): 50.
		"q4": {"10,800", "11,50"},
		// Windows of 4s every 2s, all reported (the input is bounded):
		// [-2000,2000) has bids at 800 and 1000 on two auctions, one
		// each; [0,4000) the same; [2000,6000) one, [4000,8000) two,
		// [6000,10000) one; [8000,12000) none; [10000,14000) and
		// [12000,16000) the bid at 12000.
		"q5": {"-2000,10,1", "-2000,123,1", "0,10,1", "0,123,1", "2000,10,1", "4000,10,2", "6000,10,1", "10000,11,1", "12000,11,1"},
		// Windows of 5s: [0,5000) tops at 700, [5000,10000) at 900,
		// [10000,15000) at 900.
		"q7": {"10,2,700,4000,x", "10,2,900,6000,x", "11,1,900,12000,x"},
		// Ann, Bob and Cy sold in the window they joined in.
		"q8": {"1,Ann,0", "2,Bob,0", "3,Cy,0"},
	}
	check := func(q string, evs []Event, want []string) {
		t.Helper()
		got, err := ReferenceEvents(q, evs, qc, 100)
		if err != nil {
			t.Fatal(err)
		}
		wd := NewDigest(100)
		for _, r := range want {
			wd.Add([]byte(r))
		}
		if err := Compare(wd, got); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, q := range Queries {
		check(q, evs, want[q])
	}
	// Di registers in the next window and sells nothing; Ann sells again
	// in it without registering there.
	check("q8", append(evs, person(4, 10_000, "Di", "AZ"), auction(13, 1, 10, 10_500, 20_000)), []string{"1,Ann,0", "2,Bob,0", "3,Cy,0"})
}

func TestCompareReportsDifferences(t *testing.T) {
	a, b := NewDigest(10), NewDigest(10)
	for _, r := range []string{"1", "2", "2"} {
		a.Add([]byte(r))
	}
	for _, r := range []string{"2", "3"} {
		b.Add([]byte(r))
	}
	err := Compare(a, b)
	if err == nil || !strings.Contains(err.Error(), "2 missing: [1] [2]") || !strings.Contains(err.Error(), "1 unexpected: [3]") {
		t.Fatalf("Compare: %v", err)
	}
	if err := Compare(a, a); err != nil {
		t.Fatal(err)
	}
}

// TestReferenceNonTrivial checks that every query has results on a CI-sized
// run, so that the end-to-end checks compare something.
func TestReferenceNonTrivial(t *testing.T) {
	gen := newGen(t, Config{Events: 20_000, EventsPerSecond: 1000})
	for _, q := range Queries {
		d, err := Reference(q, gen, QueryConfig{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d rows", q, d.Rows)
		if d.Rows == 0 {
			t.Errorf("%s: no rows", q)
		}
	}
}
