package serde_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/eddy-streaming/eddy/stream/serde"
)

func roundTrip[T comparable](t *testing.T, s serde.Serde[T], v T) {
	t.Helper()
	b, err := s.Encode([]byte("prefix"), v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Decode(b[len("prefix"):])
	if err != nil || got != v {
		t.Fatalf("round trip of %v: %v %v", v, got, err)
	}
}

func TestRoundTrips(t *testing.T) {
	roundTrip(t, serde.String, "héllo")
	roundTrip(t, serde.Int64, -42)
	roundTrip(t, serde.Int32, 1<<30)
	roundTrip(t, serde.Float64, 3.25)
	type p struct {
		A string
		B int
	}
	roundTrip(t, serde.JSON[p](), p{"x", 3})
	roundTrip(t, serde.Funcs(func(v int) ([]byte, error) { return []byte(strconv.Itoa(v)), nil }, func(b []byte) (int, error) { return strconv.Atoi(string(b)) }), 99)
	b, _ := serde.Bytes.Encode(nil, []byte{1, 2})
	if got, _ := serde.Bytes.Decode(b); string(got) != "\x01\x02" {
		t.Fatal("bytes")
	}
}

func TestBadInput(t *testing.T) {
	if _, err := serde.Int64.Decode([]byte{1, 2, 3}); !errors.Is(err, serde.ErrSize) {
		t.Fatalf("err = %v", err)
	}
	if _, err := serde.JSON[map[string]int]().Decode([]byte("{")); err == nil {
		t.Fatal("bad JSON decoded")
	}
}

func TestInt64MatchesKafka(t *testing.T) {
	// Kafka's LongSerializer writes big-endian.
	b, _ := serde.Int64.Encode(nil, 258)
	if string(b) != "\x00\x00\x00\x00\x00\x00\x01\x02" {
		t.Fatalf("%x", b)
	}
}
