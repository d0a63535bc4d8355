package nexmark

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// The binary encoding of an Event: one byte Kind, then the fields in
// declaration order, integers as zig-zag varints and strings as a uvarint
// length followed by the bytes. A bid with the default sizes takes about 100
// bytes; encoding allocates nothing when dst has room and decoding allocates
// once (the strings share one copy of the input).

// ErrCorrupt is returned (wrapped) for input that is not an encoded event.
var ErrCorrupt = errors.New("nexmark: corrupt event")

// AppendEvent appends the encoding of ev to dst.
func AppendEvent(dst []byte, ev *Event) []byte {
	if ev.Kind == KindBid {
		return AppendBid(dst, &ev.Bid)
	}
	// One allocation at most, of exactly the encoding's size, so that a
	// dst sized by earlier encodings has room.
	n := 1
	if ev.Kind == KindPerson {
		p := &ev.Person
		n += varintLen(p.ID) + varintLen(p.DateTime) + strLen(p.Name) + strLen(p.Email) + strLen(p.CreditCard) +
			strLen(p.City) + strLen(p.State) + strLen(p.Extra)
	} else {
		a := &ev.Auction
		n += varintLen(a.ID) + varintLen(a.InitialBid) + varintLen(a.Reserve) + varintLen(a.DateTime) +
			varintLen(a.Expires) + varintLen(a.Seller) + varintLen(a.Category) +
			strLen(a.ItemName) + strLen(a.Description) + strLen(a.Extra)
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, byte(ev.Kind))
	switch ev.Kind {
	case KindPerson:
		p := &ev.Person
		dst = binary.AppendVarint(dst, p.ID)
		dst = binary.AppendVarint(dst, p.DateTime)
		dst = appendStr(dst, p.Name)
		dst = appendStr(dst, p.Email)
		dst = appendStr(dst, p.CreditCard)
		dst = appendStr(dst, p.City)
		dst = appendStr(dst, p.State)
		dst = appendStr(dst, p.Extra)
	case KindAuction:
		a := &ev.Auction
		dst = binary.AppendVarint(dst, a.ID)
		dst = binary.AppendVarint(dst, a.InitialBid)
		dst = binary.AppendVarint(dst, a.Reserve)
		dst = binary.AppendVarint(dst, a.DateTime)
		dst = binary.AppendVarint(dst, a.Expires)
		dst = binary.AppendVarint(dst, a.Seller)
		dst = binary.AppendVarint(dst, a.Category)
		dst = appendStr(dst, a.ItemName)
		dst = appendStr(dst, a.Description)
		dst = appendStr(dst, a.Extra)
	}
	return dst
}

// AppendBid appends the encoding of an Event holding b.
func AppendBid(dst []byte, b *Bid) []byte {
	dst = slices.Grow(dst, 1+varintLen(b.Auction)+varintLen(b.Bidder)+varintLen(b.Price)+varintLen(b.DateTime)+strLen(b.Extra))
	dst = append(dst, byte(KindBid))
	dst = binary.AppendVarint(dst, b.Auction)
	dst = binary.AppendVarint(dst, b.Bidder)
	dst = binary.AppendVarint(dst, b.Price)
	dst = binary.AppendVarint(dst, b.DateTime)
	return appendStr(dst, b.Extra)
}

// varintLen is the length of v's zig-zag varint.
func varintLen(v int64) int { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }

// uvarintLen is the length of x's varint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// strLen is the length of s's encoding.
func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// DecodeEvent decodes an event encoded by AppendEvent into ev.
func DecodeEvent(b []byte, ev *Event) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrCorrupt)
	}
	*ev = Event{Kind: Kind(b[0])}
	d := decoder{b: b, off: 1}
	switch ev.Kind {
	case KindPerson:
		p := &ev.Person
		p.ID = d.int()
		p.DateTime = d.int()
		d.strings(&p.Name, &p.Email, &p.CreditCard, &p.City, &p.State, &p.Extra)
	case KindAuction:
		a := &ev.Auction
		a.ID = d.int()
		a.InitialBid = d.int()
		a.Reserve = d.int()
		a.DateTime = d.int()
		a.Expires = d.int()
		a.Seller = d.int()
		a.Category = d.int()
		d.strings(&a.ItemName, &a.Description, &a.Extra)
	case KindBid:
		d.bid(&ev.Bid)
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrCorrupt, b[0])
	}
	return d.finish(ev.Kind)
}

// DecodeBid decodes an encoded bid event into bid, failing if b holds
// another kind of event.
func DecodeBid(b []byte, bid *Bid) error {
	if len(b) == 0 || Kind(b[0]) != KindBid {
		return fmt.Errorf("%w: not a bid", ErrCorrupt)
	}
	d := decoder{b: b, off: 1}
	d.bid(bid)
	return d.finish(KindBid)
}

type decoder struct {
	b   []byte
	off int
	bad bool
}

func (d *decoder) bid(b *Bid) {
	b.Auction = d.int()
	b.Bidder = d.int()
	b.Price = d.int()
	b.DateTime = d.int()
	d.strings(&b.Extra)
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.bad = true
		d.off = len(d.b)
		return 0
	}
	d.off += n
	return v
}

// strings decodes consecutive strings, all sharing one allocation.
func (d *decoder) strings(dst ...*string) {
	var bounds [8][2]int
	start := d.off
	for i := range dst {
		l, n := binary.Uvarint(d.b[d.off:])
		if n <= 0 || l > uint64(len(d.b)-d.off-n) {
			d.bad = true
			d.off = len(d.b)
			return
		}
		d.off += n
		bounds[i] = [2]int{d.off - start, d.off - start + int(l)}
		d.off += int(l)
	}
	s := string(d.b[start:d.off])
	for i, p := range dst {
		*p = s[bounds[i][0]:bounds[i][1]]
	}
}

func (d *decoder) finish(k Kind) error {
	if d.bad {
		return fmt.Errorf("%w: truncated %v", ErrCorrupt, k)
	}
	if d.off != len(d.b) {
		return fmt.Errorf("%w: %d trailing bytes after %v", ErrCorrupt, len(d.b)-d.off, k)
	}
	return nil
}
