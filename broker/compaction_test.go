package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestCompactedTopic produces many updates per key and tombstones to a
// compacted topic through a real client, lets the broker's cleaner run,
// and reads it back with a fresh consumer: the latest value of every live
// key at its original offset, no deleted key once delete.retention.ms has
// passed. Keyless records are refused with INVALID_RECORD.
func TestCompactedTopic(t *testing.T) {
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"log.cleaner.backoff.ms": "50"}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, b))
	createTopic(t, adm, "table", 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"delete.retention.ms":       kadm.StringPtr("1000"),
	})
	prod := newClient(t, b, kgo.DefaultProduceTopic("table"), kgo.ProducerLinger(0))

	type write struct {
		off   int64
		value []byte
	}
	latest := map[string]write{}
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("product-%03d", i%100)
		v := []byte(fmt.Sprintf("%s count=%d", k, i))
		if i%7 == 0 {
			v = nil // tombstone
		}
		prod.Produce(ctx, &kgo.Record{Key: []byte(k), Value: v}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			if w, ok := latest[k]; !ok || w.off < r.Offset {
				latest[k] = write{r.Offset, v}
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Roll the last update out of the active segment so it is cleanable.
	for i := 0; i < 40; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte("filler"), Value: make([]byte, 200)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	keyless := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(keyless, kerr.InvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want INVALID_RECORD", keyless)
	}

	read := func() map[string]*kgo.Record {
		cons := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"table": {0: kgo.NewOffset().AtStart()}}))
		defer cons.Close()
		ends, err := adm.ListEndOffsets(ctx, "table")
		if err != nil {
			t.Fatal(err)
		}
		end, _ := ends.Lookup("table", 0)
		got := map[string]*kgo.Record{}
		var last int64 = -1
		for last < end.Offset-1 {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("reading: %v", ctx.Err())
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset <= last {
					t.Fatalf("offset %d after %d", r.Offset, last)
				}
				last = r.Offset
				got[string(r.Key)] = r
			})
		}
		return got
	}

	// Wait until the cleaner has removed the tombstones (delete.retention.ms
	// after they were written).
	var got map[string]*kgo.Record
	for {
		got = read()
		tombstones := 0
		for k, r := range got {
			if r.Value == nil && k != "filler" {
				tombstones++
			}
		}
		if tombstones == 0 && len(got) <= 101 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cleaner did not finish: %d keys, %d tombstones visible", len(got), tombstones)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for k, w := range latest {
		r, ok := got[k]
		if w.value == nil {
			if ok {
				t.Errorf("deleted key %s still present (offset %d)", k, r.Offset)
			}
			continue
		}
		if !ok {
			t.Errorf("live key %s is gone", k)
			continue
		}
		if r.Offset != w.off || string(r.Value) != string(w.value) {
			t.Errorf("key %s: offset %d value %q, want offset %d value %q", k, r.Offset, r.Value, w.off, w.value)
		}
	}
}
