package nexmark

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestLoadReadBack loads events into a real broker and reads them back: all
// of them, in order, with their date time as the record timestamp.
func TestLoadReadBack(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeds := kgo.SeedBrokers(b.Addr())
	cl, err := kgo.NewClient(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	gen := newGen(t, Config{Events: 20_000})
	res, err := Load(ctx, cl, "events", gen)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 20_000 || res.Bytes == 0 {
		t.Fatalf("load result %+v", res)
	}
	want := gen.All()
	n := 0
	err = ReadTopic(ctx, "events", func(r *kgo.Record) error {
		var ev Event
		if err := DecodeEvent(r.Value, &ev); err != nil {
			t.Fatalf("offset %d: %v", r.Offset, err)
		}
		if ev != want[n] || r.Timestamp.UnixMilli() != ev.Time() {
			t.Fatalf("offset %d: got %+v at %v, want %+v", r.Offset, ev, r.Timestamp, want[n])
		}
		n++
		return nil
	}, seeds)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read %d events, want %d", n, len(want))
	}
}
