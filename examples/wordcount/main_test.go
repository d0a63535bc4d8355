package main

import (
	"testing"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

func TestWordCount(t *testing.T) {
	top, err := topology("lines", "word-counts")
	if err != nil {
		t.Fatal(err)
	}
	d := streamtest.New(t, top, streamtest.Partitions(3))
	in := streamtest.Input(d, "lines", serde.String, serde.String)
	in.Pipe("", "To be, or not to be.", 1)
	in.Pipe("", "That is the question", 2)
	counts := map[string]int64{}
	for _, kv := range streamtest.Output(d, "word-counts", serde.String, serde.Int64).ReadKeyValues() {
		counts[kv.Key] = kv.Value
	}
	want := map[string]int64{"to": 2, "be": 2, "or": 1, "not": 1, "that": 1, "is": 1, "the": 1, "question": 1}
	for w, n := range want {
		if counts[w] != n {
			t.Errorf("%s: %d, want %d", w, counts[w], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("counts %v", counts)
	}
}
