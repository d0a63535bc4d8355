package nexmark

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The first ids, as in the Beam/Flink generator: ids start above zero so that
// queries find matches even on small runs.
const (
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
)

// Fixed parameters of the Beam/Flink generator.
const (
	numCategories    = 5   // categories are FirstCategoryID + [0, 5)
	personIDLead     = 10  // people ids a bid or auction may reference ahead of the last person
	auctionIDLead    = 10  // auction ids a bid may reference ahead of the last auction
	hotSellerRatio   = 100 // a hot seller is the first of each batch of 100 people
	hotBidderRatio   = 100 // a hot bidder is the second of each batch of 100 people
	hotAuctionRatio  = 100 // a hot auction is the first of each batch of 100 auctions
	minStringLength  = 3
	defaultEventRate = 10_000
)

var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
)

// Config holds the generator parameters. Zero values select the defaults of
// Beam's NexmarkConfiguration (also Flink Nexmark's), given in brackets.
type Config struct {
	// Events is the number of events to generate. Required.
	Events int64
	// FirstEventID is the id of the first event [0]. Event ids seed each
	// event's random values.
	FirstEventID int64
	// BaseTime is the date time of the first event, in Unix milliseconds
	// [the start of the current UTC day: the same events all day, yet
	// recent enough that a broker's time-based retention (7 days by
	// default) does not delete them; Flink uses the wall clock at start].
	BaseTime int64
	// EventsPerSecond is the event rate in event time, which spaces the
	// events' date times [10000]. Flink's Nexmark suite runs at 10M/s.
	EventsPerSecond float64

	// PersonProportion, AuctionProportion and BidProportion set the mix of
	// events [1:3:46].
	PersonProportion  int
	AuctionProportion int
	BidProportion     int
	// One in HotAuctionRatio bids goes to a random in-flight auction, the
	// rest to the current hot auction [2]; likewise bidders [4] and
	// sellers [4].
	HotAuctionRatio int
	HotBiddersRatio int
	HotSellersRatio int
	// NumInFlightAuctions is how many recent auctions a random bid picks
	// from; it also sets the average auction length [100].
	NumInFlightAuctions int
	// NumActivePeople is how many recent people a random bidder or seller is
	// picked from [1000].
	NumActivePeople int
	// Average encoded sizes, which set the length of the Extra fields
	// [200, 500, 100].
	AvgPersonByteSize  int
	AvgAuctionByteSize int
	AvgBidByteSize     int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.BaseTime == 0 {
		c.BaseTime = time.Now().UTC().Truncate(24 * time.Hour).UnixMilli()
	}
	if c.EventsPerSecond == 0 {
		c.EventsPerSecond = defaultEventRate
	}
	def(&c.PersonProportion, 1)
	def(&c.AuctionProportion, 3)
	def(&c.BidProportion, 46)
	def(&c.HotAuctionRatio, 2)
	def(&c.HotBiddersRatio, 4)
	def(&c.HotSellersRatio, 4)
	def(&c.NumInFlightAuctions, 100)
	def(&c.NumActivePeople, 1000)
	def(&c.AvgPersonByteSize, 200)
	def(&c.AvgAuctionByteSize, 500)
	def(&c.AvgBidByteSize, 100)
	return c
}

// Generator produces the events of a Config. Event n (0-based) is a pure
// function of the configuration and n, so ranges can be generated in
// parallel by several Generators. A Generator is not safe for concurrent
// use.
type Generator struct {
	cfg     Config
	total   int64
	delayUs float64
	scratch []byte
	bounds  [8]int
	nBounds int
}

// NewGenerator validates cfg and returns a generator for it.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Events <= 0:
		return nil, fmt.Errorf("nexmark: Events must be positive, got %d", cfg.Events)
	case cfg.EventsPerSecond < 0 || math.IsNaN(cfg.EventsPerSecond) || math.IsInf(cfg.EventsPerSecond, 0):
		return nil, fmt.Errorf("nexmark: invalid EventsPerSecond %v", cfg.EventsPerSecond)
	case cfg.PersonProportion < 0 || cfg.AuctionProportion < 0 || cfg.BidProportion < 0:
		return nil, fmt.Errorf("nexmark: negative proportion")
	case cfg.HotAuctionRatio < 0 || cfg.HotBiddersRatio < 0 || cfg.HotSellersRatio < 0 ||
		cfg.NumInFlightAuctions < 0 || cfg.NumActivePeople < 0:
		return nil, fmt.Errorf("nexmark: negative ratio or count")
	}
	return &Generator{
		cfg:     cfg,
		total:   int64(cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion),
		delayUs: 1e6 / cfg.EventsPerSecond,
	}, nil
}

// Config returns the generator's configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Timestamp returns the date time of event number n.
func (g *Generator) Timestamp(n int64) int64 {
	return g.cfg.BaseTime + int64(float64(n)*g.delayUs)/1000
}

// Event fills ev with event number n in [0, Events). Its strings share one
// allocation.
func (g *Generator) Event(n int64, ev *Event) {
	id := g.cfg.FirstEventID + n
	ts := g.Timestamp(n)
	r := eventRandom(id)
	g.scratch = g.scratch[:0]
	g.nBounds = 0
	*ev = Event{}
	rem := id % g.total
	switch {
	case rem < int64(g.cfg.PersonProportion):
		ev.Kind = KindPerson
		g.person(id, ts, &r, &ev.Person)
	case rem < int64(g.cfg.PersonProportion+g.cfg.AuctionProportion):
		ev.Kind = KindAuction
		g.auction(n, id, ts, &r, &ev.Auction)
	default:
		ev.Kind = KindBid
		g.bid(id, ts, &r, &ev.Bid)
	}
}

// All returns every event of the configuration, in order.
func (g *Generator) All() []Event {
	evs := make([]Event, g.cfg.Events)
	for i := range evs {
		g.Event(int64(i), &evs[i])
	}
	return evs
}

// strings returns the fields appended to scratch since the event began, as
// strings sharing one allocation.
func (g *Generator) strings(dst ...*string) {
	s := string(g.scratch)
	start := 0
	for i, p := range dst {
		end := g.bounds[i]
		*p = s[start:end]
		start = end
	}
}

// endField marks the end of a string field in scratch.
func (g *Generator) endField() {
	g.bounds[g.nBounds] = len(g.scratch)
	g.nBounds++
}

func (g *Generator) person(id, ts int64, r *javaRandom, p *Person) {
	p.ID = g.lastBase0PersonID(id) + FirstPersonID
	p.DateTime = ts
	// name
	g.scratch = append(g.scratch, firstNames[r.intn(int32(len(firstNames)))]...)
	g.scratch = append(g.scratch, ' ')
	g.scratch = append(g.scratch, lastNames[r.intn(int32(len(lastNames)))]...)
	g.endField()
	// email
	g.appendString(r, 7)
	g.scratch = append(g.scratch, '@')
	g.appendString(r, 5)
	g.scratch = append(g.scratch, ".com"...)
	g.endField()
	// credit card: four groups of four digits
	for i := range 4 {
		if i > 0 {
			g.scratch = append(g.scratch, ' ')
		}
		v := r.intn(10000)
		if v < 1000 {
			g.scratch = append(g.scratch, "000"[:4-digits(v)]...)
		}
		g.scratch = strconv.AppendInt(g.scratch, int64(v), 10)
	}
	g.endField()
	g.scratch = append(g.scratch, usCities[r.intn(int32(len(usCities)))]...)
	g.endField()
	g.scratch = append(g.scratch, usStates[r.intn(int32(len(usStates)))]...)
	g.endField()
	g.appendExtra(r, 8+len(g.scratch), g.cfg.AvgPersonByteSize)
	g.endField()
	g.strings(&p.Name, &p.Email, &p.CreditCard, &p.City, &p.State, &p.Extra)
}

// digits returns the number of decimal digits of v in [0, 9999], counting 0
// as one digit.
func digits(v int32) int {
	switch {
	case v >= 1000:
		return 4
	case v >= 100:
		return 3
	case v >= 10:
		return 2
	}
	return 1
}

func (g *Generator) auction(n, id, ts int64, r *javaRandom, a *Auction) {
	a.ID = g.lastBase0AuctionID(id) + FirstAuctionID
	if r.intn(int32(g.cfg.HotSellersRatio)) > 0 {
		a.Seller = (g.lastBase0PersonID(id) / hotSellerRatio) * hotSellerRatio
	} else {
		a.Seller = g.nextBase0PersonID(id, r)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + int64(r.intn(numCategories))
	a.InitialBid = nextPrice(r)
	a.DateTime = ts
	a.Expires = ts + g.nextAuctionLengthMs(n, ts, r)
	g.appendString(r, 20)
	g.endField()
	g.appendString(r, 100)
	g.endField()
	a.Reserve = a.InitialBid + nextPrice(r)
	g.appendExtra(r, 8+len(g.scratch)+8+8+8+8+8, g.cfg.AvgAuctionByteSize)
	g.endField()
	g.strings(&a.ItemName, &a.Description, &a.Extra)
}

func (g *Generator) bid(id, ts int64, r *javaRandom, b *Bid) {
	if r.intn(int32(g.cfg.HotAuctionRatio)) > 0 {
		b.Auction = (g.lastBase0AuctionID(id) / hotAuctionRatio) * hotAuctionRatio
	} else {
		b.Auction = g.nextBase0AuctionID(id, r)
	}
	b.Auction += FirstAuctionID
	if r.intn(int32(g.cfg.HotBiddersRatio)) > 0 {
		b.Bidder = (g.lastBase0PersonID(id)/hotBidderRatio)*hotBidderRatio + 1
	} else {
		b.Bidder = g.nextBase0PersonID(id, r)
	}
	b.Bidder += FirstPersonID
	b.Price = nextPrice(r)
	b.DateTime = ts
	g.appendExtra(r, 8+8+8+8, g.cfg.AvgBidByteSize)
	g.endField()
	g.strings(&b.Extra)
}

// lastBase0PersonID is the id (from 0) of the last person generated at or
// before event id.
func (g *Generator) lastBase0PersonID(id int64) int64 {
	epoch, offset := id/g.total, id%g.total
	pp := int64(g.cfg.PersonProportion)
	if offset >= pp {
		offset = pp - 1
	}
	return epoch*pp + offset
}

// lastBase0AuctionID is the id (from 0) of the last auction generated at or
// before event id.
func (g *Generator) lastBase0AuctionID(id int64) int64 {
	epoch, offset := id/g.total, id%g.total
	pp, ap := int64(g.cfg.PersonProportion), int64(g.cfg.AuctionProportion)
	switch {
	case offset < pp:
		epoch--
		offset = ap - 1
	case offset >= pp+ap:
		offset = ap - 1
	default:
		offset -= pp
	}
	return epoch*ap + offset
}

// nextBase0PersonID picks one of the active people, or a few not yet
// generated.
func (g *Generator) nextBase0PersonID(id int64, r *javaRandom) int64 {
	numPeople := g.lastBase0PersonID(id) + 1
	active := min(numPeople, int64(g.cfg.NumActivePeople))
	return numPeople - active + r.int64n(active+personIDLead)
}

// nextBase0AuctionID picks one of the auctions likely in flight, or a few not
// yet generated.
func (g *Generator) nextBase0AuctionID(id int64, r *javaRandom) int64 {
	maxAuction := g.lastBase0AuctionID(id)
	minAuction := max(maxAuction-int64(g.cfg.NumInFlightAuctions), 0)
	return minAuction + r.int64n(maxAuction-minAuction+1+auctionIDLead)
}

// nextAuctionLengthMs picks an auction length averaging the time until
// NumInFlightAuctions more auctions have been generated.
func (g *Generator) nextAuctionLengthMs(n, ts int64, r *javaRandom) int64 {
	eventsForAuctions := int64(g.cfg.NumInFlightAuctions) * g.total / int64(g.cfg.AuctionProportion)
	horizon := g.Timestamp(n+eventsForAuctions) - ts
	return 1 + r.int64n(max(horizon*2, 1))
}

// nextPrice returns a price in cents, log-uniform between $1 and $1M.
func nextPrice(r *javaRandom) int64 {
	return int64(math.Round(math.Pow(10, r.float64()*6) * 100))
}

// appendString appends a random string of lowercase letters and spaces,
// of length minStringLength to maxLength-1 before trimming spaces at its
// ends.
func (g *Generator) appendString(r *javaRandom, maxLength int) {
	n := minStringLength + int(r.intn(int32(maxLength-minStringLength)))
	start := len(g.scratch)
	for range n {
		if r.intn(13) == 0 {
			g.scratch = append(g.scratch, ' ')
		} else {
			g.scratch = append(g.scratch, byte('a'+r.intn(26)))
		}
	}
	// trim
	s := g.scratch[start:]
	i, j := 0, len(s)
	for i < j && s[i] == ' ' {
		i++
	}
	for j > i && s[j-1] == ' ' {
		j--
	}
	copy(g.scratch[start:], s[i:j])
	g.scratch = g.scratch[:start+j-i]
}

// appendExtra appends letters so that an event of currentSize bytes has
// about avgSize bytes on average (uniform within ±20% of the missing size).
func (g *Generator) appendExtra(r *javaRandom, currentSize, avgSize int) {
	if currentSize > avgSize {
		return
	}
	want := avgSize - currentSize
	delta := int(math.Round(float64(want) * 0.2))
	size := want - delta
	if delta != 0 {
		size += int(r.intn(int32(2 * delta)))
	}
	var rnd uint32
	left := 0
	for range size {
		if left == 0 {
			rnd = uint32(r.int32())
			left = 6 // 26^6 < 2^32
		}
		g.scratch = append(g.scratch, byte('a'+rnd%26))
		rnd /= 26
		left--
	}
}
