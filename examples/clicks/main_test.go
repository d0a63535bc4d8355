package main

import (
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

func TestPopularity(t *testing.T) {
	top, err := topology("clicks", "product-popularity")
	if err != nil {
		t.Fatal(err)
	}
	d := streamtest.New(t, top, streamtest.Partitions(2), streamtest.AppID("clicks-popularity"))
	in := streamtest.Input(d, "clicks", serde.String, serde.JSON[Click]())
	out := streamtest.Output(d, "product-popularity", serde.String, serde.JSON[Popularity]())
	min := time.Minute.Milliseconds()
	in.Pipe("u1", Click{"lamp", 0}, 0)
	in.Pipe("u2", Click{"lamp", 1 * min}, 0)
	in.Pipe("u3", Click{"desk", 2 * min}, 0)
	in.Pipe("u1", Click{"lamp", 7 * min}, 0) // the click at 0 is out of [2m, 7m]
	var got []Popularity
	for _, kv := range out.ReadKeyValues() {
		got = append(got, kv.Value)
	}
	want := []int64{1, 2, 1, 1}
	for i, p := range got {
		if p.Clicks != want[i] {
			t.Fatalf("outputs %+v", got)
		}
	}
	last := got[3]
	if last.Product != "lamp" || last.WindowStart != 2*min || last.WindowEnd != 7*min {
		t.Fatalf("last %+v", last)
	}
	// A click more than the grace behind stream time is dead-lettered.
	in.Pipe("u4", Click{"lamp", 0}, 0)
	dl := d.DeadLetters()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters", len(dl))
	}
	for _, h := range dl[0].Headers {
		if h.Key == stream.HeaderStage && string(h.Value) != "late" {
			t.Fatalf("stage %s", h.Value)
		}
	}
}
