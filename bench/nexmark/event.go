// Package nexmark is the Nexmark streaming benchmark on Eddy: the event model
// (people, auctions and bids of an online auction house), a deterministic
// generator with the parameters of the Beam/Flink Nexmark generator, a compact
// binary serde, a bulk loader into a Kafka-protocol topic, queries q0, q1, q2,
// q3, q4, q5, q7 and q8 written with Eddy's stream DSL, and a plain,
// obviously-correct reference implementation of each query that the DSL
// results are checked against.
//
// As in Flink's Nexmark with a Kafka source, all events go to one topic; each
// record's value starts with a type tag (see Kind) and its timestamp is the
// event's date time.
package nexmark

import "fmt"

// Kind tags the type of an Event. Its value is the first byte of an encoded
// event.
type Kind uint8

// The event kinds.
const (
	KindPerson Kind = iota
	KindAuction
	KindBid
)

func (k Kind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Person is a new user of the auction site. Times are Unix milliseconds.
type Person struct {
	ID         int64
	Name       string
	Email      string
	CreditCard string
	City       string
	State      string
	DateTime   int64
	Extra      string
}

// Auction is an item put up for auction by Seller; it is open from DateTime
// to Expires (Unix milliseconds).
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64
	Expires     int64
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid of Bidder on Auction at Price (in cents).
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	DateTime int64
	Extra    string
}

// Event is one of a Person, an Auction or a Bid, as Kind says; the other two
// fields are zero. It is a plain value (no pointers besides strings) so that
// decoding one costs a single allocation.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}

// Time returns the event's date time in Unix milliseconds.
func (e *Event) Time() int64 {
	switch e.Kind {
	case KindPerson:
		return e.Person.DateTime
	case KindAuction:
		return e.Auction.DateTime
	default:
		return e.Bid.DateTime
	}
}
