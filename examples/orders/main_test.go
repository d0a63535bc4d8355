package main

import (
	"testing"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

func TestEnrichment(t *testing.T) {
	top, err := topology()
	if err != nil {
		t.Fatal(err)
	}
	d := streamtest.New(t, top, streamtest.Partitions(3))
	customers := streamtest.Input(d, "customers", serde.String, serde.JSON[Customer]())
	orders := streamtest.Input(d, "orders", serde.String, serde.JSON[Order]())
	out := streamtest.Output(d, "orders-enriched", serde.String, serde.JSON[Enriched]())
	customers.Pipe("c1", Customer{"Ann", "NL"}, 1)
	orders.Pipe("o1", Order{"o1", "c1", 9.5}, 2)
	orders.Pipe("o2", Order{"o2", "c9", 3}, 3)
	customers.Pipe("c1", Customer{"Ann", "BE"}, 4) // moved
	orders.Pipe("o3", Order{"o3", "c1", 1}, 5)
	got := out.ReadKeyValues()
	if len(got) != 3 {
		t.Fatalf("%d outputs", len(got))
	}
	if e := got[0].Value; e.ID != "o1" || e.CustomerName != "Ann" || e.Country != "NL" || !e.Known || got[0].Key != "c1" {
		t.Fatalf("o1: %+v", got[0])
	}
	if e := got[1].Value; e.ID != "o2" || e.Known {
		t.Fatalf("o2: %+v", e)
	}
	if e := got[2].Value; e.Country != "BE" {
		t.Fatalf("o3: %+v", e)
	}
}
