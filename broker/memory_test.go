package broker_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestMemoryBoundedUnderOverload opens connections that pipeline many
// large fetches and never read the answers (slow consumers), and others
// that pipeline many 1 MiB produce requests without reading the answers (a
// producer burst). Without back-pressure the broker would buffer gigabytes;
// with its request and fetch budgets the heap stays within a bound derived
// from them.
func TestMemoryBoundedUnderOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the broker with hundreds of MiB of requests")
	}
	const (
		fetchMax   = 4 << 20
		fetchMem   = 32 << 20
		requestMem = 16 << 20
		mib        = 1 << 20
	)
	b := testbroker.Start(t, broker.WithConfig(map[string]string{
		"fetch.max.bytes":             "4194304",
		"eddy.fetch.memory.bytes":     "33554432",
		"queued.max.request.bytes":    "16777216",
		"socket.request.max.bytes":    "4194304",
		"log.flush.interval.messages": "9223372036854775807", // no fsync: load the memory paths, not the disk
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, kadm.NewClient(newClient(t, b)), "mem", 1, nil)

	// Preload data for the slow consumers to fetch.
	value := bytes.Repeat([]byte("x"), 1000)
	values := make([][]byte, 1000)
	for i := range values {
		values[i] = value
	}
	batch := buildBatch(t, values...) // ~1 MiB
	prod := newClient(t, b, kgo.DefaultProduceTopic("mem"))
	for i := 0; i < 40; i++ {
		req := produceRequest("mem", batch)
		if _, err := req.RequestWith(ctx, prod); err != nil {
			t.Fatal(err)
		}
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse

	var wg sync.WaitGroup
	// Slow consumers: 16 connections × 32 pipelined 4 MiB fetches = 2 GiB
	// if every answer were buffered.
	for i := 0; i < 16; i++ {
		c := dialRaw(t, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var all []byte
			for j := 0; j < 32; j++ {
				f := kmsg.NewPtrFetchRequest()
				f.MaxWaitMillis, f.MinBytes, f.MaxBytes = 100, 1, fetchMax
				ft := kmsg.NewFetchRequestTopic()
				ft.Topic = "mem"
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.FetchOffset, fp.PartitionMaxBytes = int64(j*1000), fetchMax
				ft.Partitions = append(ft.Partitions, fp)
				f.Topics = append(f.Topics, ft)
				all = append(all, encodeRequest(f, 11, int32(j))...)
			}
			c.nc.Write(all)
		}()
	}
	// Producer burst: 16 connections × 32 pipelined 1 MiB requests = 512 MiB.
	for i := 0; i < 16; i++ {
		c := dialRaw(t, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 32; j++ {
				if _, err := c.nc.Write(encodeRequest(produceRequest("mem", batch), 9, int32(j))); err != nil {
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var peak uint64
	go func() {
		defer close(done)
		for i := 0; i < 60; i++ {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	<-done
	growth := int64(peak) - int64(baseline)
	// Budgets: fetch memory + request memory, plus per-connection slack
	// (one read buffer, one oversized batch, encode buffers) and garbage
	// the collector has not yet reclaimed.
	bound := int64(fetchMem + requestMem + 32*2*mib + 64*mib)
	t.Logf("heap in use grew by %d MiB under overload (bound %d MiB)", growth/mib, bound/mib)
	if growth > bound {
		t.Fatalf("heap grew by %d MiB, more than the %d MiB the budgets allow", growth/mib, bound/mib)
	}
	wg.Wait()
}

func produceRequest(topic string, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = append([]byte(nil), batch...)
	pt.Partitions = append(pt.Partitions, pp)
	req.Topics = append(req.Topics, pt)
	return req
}
