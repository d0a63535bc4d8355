package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/bench"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// These benchmarks measure an in-process broker on this machine's disk
// (the test's temporary directory) with the bench package, in the phases of
// "eddy bench all": produce and consume with the raw load generator and
// with franz-go, for 100-byte and 1 KiB records, end-to-end latency at half
// of the peak produce rate, and the disk's own sequential write speed for
// comparison. One benchmark op is one record, so ns/op is the time per
// record; the figures that matter are reported as
// custom metrics (records/s, MB/s, latency percentiles in µs). Nothing is
// asserted about them.
//
// Run with, for example:
//
//	go test -run X -bench . -benchtime 2000000x ./broker/
//	go test -run X -bench 'Produce/client=raw/record=100B' -cpuprofile cpu.out ./broker/

// benchPartitions is the partition count of every benchmark topic.
const benchPartitions = 4

var (
	benchClients = []string{bench.ClientRaw, bench.ClientKgo}
	benchSizes   = []int{100, 1024}
)

// benchConfig is the configuration shared by the benchmarks.
func benchConfig(addr, client, topic string, size int) bench.Config {
	return bench.Config{
		Brokers:    []string{addr},
		Client:     client,
		Topic:      topic,
		Partitions: benchPartitions,
		Replicas:   1,
		RecordSize: size,
		Acks:       "all",
	}
}

// reportLatency reports a latency summary's percentiles in µs.
func reportLatency(b *testing.B, name string, s *bench.LatencySummary) {
	if s == nil {
		return
	}
	b.ReportMetric(float64(s.P50.Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(s.P99.Microseconds()), name+"-p99-µs")
	b.ReportMetric(float64(s.P999.Microseconds()), name+"-p99.9-µs")
}

// reportResult reports a run's rates and latencies.
func reportResult(b *testing.B, res *bench.Result) {
	b.ReportMetric(res.RecordsPerSec, "records/s")
	b.ReportMetric(res.MBPerSec, "MB/s")
	name := "ack"
	if res.AckPerRequest {
		name = "ack/req"
	}
	reportLatency(b, name, res.Ack)
	reportLatency(b, "e2e", res.EndToEnd)
}

// checkRun fails the benchmark on a run error or failed records.
func checkRun(b *testing.B, res *bench.Result, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d records failed: %v", res.Errors, res.FirstError)
	}
}

// BenchmarkDisk measures the sequential write speed of the directory the
// broker benchmarks keep their data in, as the baseline for their MB/s:
// 256 MiB written once with a single fdatasync at the end and once with an
// fdatasync every 4 MiB. The volume is fixed: b.N does not scale it.
func BenchmarkDisk(b *testing.B) {
	res, err := bench.DiskBaseline(context.Background(), bench.DiskConfig{
		Dir:        b.TempDir(),
		TotalBytes: 256 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.SyncAtEnd.MBPerSec, "MB/s")
	b.ReportMetric(res.GroupCommit.MBPerSec, "group-commit-MB/s")
	b.ReportMetric(float64(res.GroupCommit.SyncLatency.P99.Microseconds()), "fdatasync-p99-µs")
}

// BenchmarkProduce measures acks=all produce of b.N records into a fresh
// topic with 4 partitions.
func BenchmarkProduce(b *testing.B) {
	for _, client := range benchClients {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("client=%s/record=%dB", client, size), func(b *testing.B) {
				br := testbroker.Start(b)
				cfg := benchConfig(br.Addr(), client, "produce", size)
				cfg.Records = int64(b.N)
				b.ResetTimer()
				res, err := bench.Produce(context.Background(), cfg)
				b.StopTimer()
				checkRun(b, res, err)
				reportResult(b, res)
			})
		}
	}
}

// BenchmarkConsume measures reading b.N records, produced beforehand by the
// raw producer (not timed), from the start of a 4-partition topic.
func BenchmarkConsume(b *testing.B) {
	for _, client := range benchClients {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("client=%s/record=%dB", client, size), func(b *testing.B) {
				br := testbroker.Start(b)
				ctx := context.Background()
				fill := benchConfig(br.Addr(), bench.ClientRaw, "consume", size)
				fill.Records = int64(b.N)
				res, err := bench.Produce(ctx, fill)
				checkRun(b, res, err)
				cfg := benchConfig(br.Addr(), client, "consume", size)
				b.ResetTimer()
				res, err = bench.Consume(ctx, cfg)
				b.StopTimer()
				checkRun(b, res, err)
				reportResult(b, res)
			})
		}
	}
}

// BenchmarkEndToEnd measures produce-to-consume latency of 100-byte
// records at half of the client's peak produce rate, which a three-second
// closed-loop produce run (not timed) measures first. b.N records are
// produced at that rate; latency is from each record's scheduled send time.
func BenchmarkEndToEnd(b *testing.B) {
	for _, client := range benchClients {
		b.Run("client="+client+"/record=100B", func(b *testing.B) {
			br := testbroker.Start(b)
			ctx := context.Background()
			peakCfg := benchConfig(br.Addr(), client, "peak", 100)
			peakCfg.Duration = 3 * time.Second
			peak, err := bench.Produce(ctx, peakCfg)
			checkRun(b, peak, err)

			cfg := benchConfig(br.Addr(), client, "e2e", 100)
			cfg.Records = int64(b.N)
			cfg.Rate = peak.RecordsPerSec / 2
			cfg.Linger = time.Millisecond
			b.ResetTimer()
			res, err := bench.EndToEnd(ctx, cfg)
			b.StopTimer()
			checkRun(b, res, err)
			reportResult(b, res)
			b.ReportMetric(cfg.Rate, "target-records/s")
		})
	}
}
