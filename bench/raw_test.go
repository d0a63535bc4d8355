package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	clitestbroker "github.com/eddy-streaming/eddy/internal/cli/testbroker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// brokers returns the clusters the raw client is tested against: Eddy
// itself, franz-go's kfake (a second implementation of the protocol), and
// the cluster named by EDDY_TEST_BROKERS, if set.
func brokers(t *testing.T) map[string][]string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	clusters := map[string][]string{
		"eddy":  {testbroker.Start(t).Addr()},
		"kfake": c.ListenAddrs(),
	}
	if env := strings.TrimSpace(os.Getenv(clitestbroker.Env)); env != "" {
		clusters["external"] = strings.Split(env, ",")
	}
	return clusters
}

func TestRawBatchEncoding(t *testing.T) {
	for _, compression := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(compression, func(t *testing.T) {
			e, err := newBatchEncoder(compression, 100, 1)
			if err != nil {
				t.Fatal(err)
			}
			n := e.recordsFor(16 << 10)
			b, err := e.encode(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.buf) > 16<<10 {
				t.Fatalf("batch of %d bytes exceeds 16 KiB", len(b.buf))
			}
			sent := time.Unix(1700000000, 123456789)
			at := func(i int) time.Time { return sent.Add(time.Duration(i) * time.Microsecond) }
			k := n
			if compression == "none" {
				k = n / 2 // cut to its first half
			}
			buf := b.prepare(k, at)
			checkBatch(t, buf, k, compression != "none", sent, at)

			// The batch is reusable: prepared again whole, it is valid again.
			buf = b.prepare(n, at)
			checkBatch(t, buf, n, compression != "none", sent, at)
		})
	}
	if _, err := newBatchEncoder("xz", 100, 1); err == nil {
		t.Fatal("unknown codec accepted")
	}
}

// checkBatch decodes a batch with kmsg and checks it record by record.
func checkBatch(t *testing.T, buf []byte, n int, compressed bool, sent time.Time, at func(int) time.Time) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if rb.Magic != 2 || int(rb.NumRecords) != n || int(rb.LastOffsetDelta) != n-1 || int(rb.Length)+12 != len(buf) {
		t.Fatalf("header: %+v for %d records in %d bytes", rb, n, len(buf))
	}
	if crc := crc32.Checksum(buf[21:], crc32.MakeTable(crc32.Castagnoli)); uint32(rb.CRC) != crc {
		t.Fatal("CRC mismatch")
	}
	if rb.FirstTimestamp != sent.UnixMilli() || rb.MaxTimestamp != rb.FirstTimestamp {
		t.Fatalf("timestamps %d %d, want %d", rb.FirstTimestamp, rb.MaxTimestamp, sent.UnixMilli())
	}
	if rb.Attributes&7 != 0 != compressed {
		t.Fatalf("attributes %#x", rb.Attributes)
	}
	h, _, rest, ok, err := nextBatch(buf)
	if err != nil || !ok || len(rest) != 0 || h.numRecords != int32(n) || h.size != len(buf) {
		t.Fatalf("nextBatch: %+v ok %v err %v rest %d", h, ok, err, len(rest))
	}
	if compressed {
		return
	}
	i := 0
	err = walkValues(buf, rb.NumRecords, func(delta int64, value []byte) {
		if delta != int64(i) || len(value) != 100 {
			t.Fatalf("record %d: delta %d, %d bytes", i, delta, len(value))
		}
		if got := int64(binary.BigEndian.Uint64(value)); got != at(i).UnixNano() {
			t.Fatalf("record %d: send time %d, want %d", i, got, at(i).UnixNano())
		}
		i++
	})
	if err != nil || i != n {
		t.Fatalf("walked %d of %d records: %v", i, n, err)
	}
	// The records decode with kmsg too.
	recs := rb.Records
	for j := range n {
		l, m := binary.Varint(recs)
		var r kmsg.Record
		if err := r.ReadFrom(recs[:m+int(l)]); err != nil || r.OffsetDelta != int32(j) || r.Key != nil {
			t.Fatalf("record %d: %+v, %v", j, r, err)
		}
		recs = recs[m+int(l):]
	}
}

func TestNextBatchTruncated(t *testing.T) {
	e, err := newBatchEncoder("none", 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.encode(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok, err := nextBatch(b.buf[:len(b.buf)-1]); ok || err != nil {
		t.Fatalf("truncated batch: ok %v err %v", ok, err)
	}
	bad := append([]byte(nil), b.buf...)
	bad[16] = 1
	if _, _, _, _, err := nextBatch(bad); err == nil {
		t.Fatal("magic 1 accepted")
	}
}

func TestRangeEnds(t *testing.T) {
	start := map[int32]int64{0: 0, 1: 10, 2: 5}
	end := map[int32]int64{0: 100, 1: 10, 2: 105}
	for _, target := range []int64{1, 7, 100, 199, 200} {
		to := rangeEnds(start, end, target)
		var n int64
		for p := range end {
			if to[p] < start[p] || to[p] > end[p] {
				t.Fatalf("target %d: partition %d range [%d, %d) outside [%d, %d)", target, p, start[p], to[p], start[p], end[p])
			}
			n += to[p] - start[p]
		}
		if n != target {
			t.Fatalf("target %d: ranges hold %d", target, n)
		}
	}
}

func TestRawProduceConsume(t *testing.T) {
	t.Parallel()
	for name, addrs := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := Config{
				Brokers:       addrs,
				Client:        ClientRaw,
				Topic:         fmt.Sprintf("raw-%d", time.Now().UnixNano()),
				Partitions:    3,
				Replicas:      1,
				RecordSize:    40,
				Records:       5000,
				BatchMaxBytes: 4 << 10, // many batches
				Producers:     2,
				InFlight:      4,
				FetchMaxBytes: 8 << 10, // many chunks and fetches
			}
			res, err := Produce(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Client != ClientRaw || res.Records != 5000 || res.Errors != 0 || res.Bytes != 5000*40 || res.Requests < 5000*40/(4<<10) {
				t.Fatalf("produce result %+v", res)
			}
			checkLatency(t, "ack", res.Ack, res.Requests)
			if !res.AckPerRequest {
				t.Fatal("raw closed-loop ack latency not per request")
			}

			// Every record is there, in valid batches: kgo reads them all.
			kcfg := cfg
			kcfg.Client, kcfg.Records = ClientKgo, 0
			all, err := Consume(ctx, kcfg)
			if err != nil || all.Records != 5000 || all.Bytes != 5000*40 {
				t.Fatalf("kgo consume of raw-produced records: %+v, %v", all, err)
			}

			cfg.Records = 0
			cres, err := Consume(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if cres.Client != ClientRaw || cres.Records != 5000 || !cres.BatchBytes || cres.Bytes < 5000*40 || cres.Requests == 0 {
				t.Fatalf("raw consume result %+v", cres)
			}
			cfg.Records = 1234
			if part, err := Consume(ctx, cfg); err != nil || part.Records != 1234 {
				t.Fatalf("raw consume of 1234 records: %+v, %v", part, err)
			}
		})
	}
}

func TestRawCompressed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{
		Brokers:       []string{testbroker.Start(t).Addr()},
		Client:        ClientRaw,
		Topic:         "raw-zstd",
		Partitions:    2,
		RecordSize:    64,
		Records:       1000,
		BatchMaxBytes: 10 << 10,
		Compression:   "zstd",
	}
	res, err := Produce(ctx, cfg)
	if err != nil || res.Records != 1000 || res.Errors != 0 {
		t.Fatalf("raw zstd produce: %+v, %v", res, err)
	}
	cfg.Records = 0
	if c, err := Consume(ctx, cfg); err != nil || c.Records != 1000 {
		t.Fatalf("raw consume of zstd batches: %+v, %v", c, err)
	}
	cfg.Client = ClientKgo
	if c, err := Consume(ctx, cfg); err != nil || c.Records != 1000 || c.Bytes != 1000*64 {
		t.Fatalf("kgo consume of raw zstd batches: %+v, %v", c, err)
	}
	cfg.Client, cfg.Records, cfg.Rate = ClientRaw, 10, 100
	if _, err := EndToEnd(ctx, cfg); err == nil {
		t.Fatal("raw e2e with compression accepted")
	}
}

func TestRawEndToEnd(t *testing.T) {
	t.Parallel()
	for name, addrs := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := Config{
				Brokers:    addrs,
				Client:     ClientRaw,
				Topic:      fmt.Sprintf("raw-e2e-%d", time.Now().UnixNano()),
				Partitions: 2,
				Replicas:   1,
				RecordSize: 50,
				Records:    600,
				Rate:       6000,
				Linger:     time.Millisecond,
				Producers:  2,
			}
			res, err := EndToEnd(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != 600 || res.Produced != 600 || res.Bytes != 600*50 || res.AckPerRequest || res.Rate != 6000 {
				t.Fatalf("raw e2e result %+v", res)
			}
			checkLatency(t, "ack", res.Ack, 600)
			checkLatency(t, "end-to-end", res.EndToEnd, 600)
			// 600 records at 6000/s are scheduled over 100ms.
			if res.Elapsed < 95*time.Millisecond {
				t.Fatalf("rate-limited run took only %v", res.Elapsed)
			}
			if res.Requests >= 600 {
				t.Fatalf("%d requests for 600 records: no batching", res.Requests)
			}
		})
	}
}

func TestRawProduceAcks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := testbroker.Start(t).Addr()
	for _, acks := range []string{"0", "1"} {
		cfg := Config{Brokers: []string{addr}, Client: ClientRaw, Topic: "acks-" + acks, Acks: acks,
			Records: 2000, BatchMaxBytes: 8 << 10}
		res, err := Produce(ctx, cfg)
		if err != nil || res.Records != 2000 || res.Errors != 0 {
			t.Fatalf("acks=%s: %+v, %v", acks, res, err)
		}
		// acks=0 has no response to wait for: poll until all arrived.
		cfg.Records = 2000
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := Consume(ctx, cfg)
			if err == nil && c.Records == 2000 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("acks=%s: consumed %+v, %v", acks, c, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Duration-bounded closed loop.
	res, err := Produce(ctx, Config{Brokers: []string{addr}, Client: ClientRaw, Topic: "dur",
		Duration: 100 * time.Millisecond, BatchMaxBytes: 8 << 10})
	if err != nil || res.Records == 0 || res.Elapsed < 100*time.Millisecond {
		t.Fatalf("duration-bounded raw run: %+v, %v", res, err)
	}
	// A broken request is reported, not hidden: records too large for
	// the topic fail with MESSAGE_TOO_LARGE.
	res, err = Produce(ctx, Config{Brokers: []string{addr}, Client: ClientRaw, Topic: "too-large",
		Records: 10, RecordSize: 2 << 20, BatchMaxBytes: 4 << 20})
	if err != nil || res.Errors != 10 || res.FirstError == nil {
		t.Fatalf("oversized batch: %+v, %v", res, err)
	}
	if _, err := Produce(ctx, Config{Brokers: []string{addr}, Client: "fast", Records: 1}); err == nil {
		t.Fatal("unknown client accepted")
	}
}

func TestReportPrint(t *testing.T) {
	lat := &LatencySummary{Count: 10, Min: time.Millisecond, P50: 2 * time.Millisecond, P99: 3 * time.Millisecond,
		P999: 4 * time.Millisecond, Max: 5 * time.Millisecond}
	disk := &DiskResult{Dir: "/data", TotalBytes: 1 << 30, ChunkBytes: 1 << 20,
		SyncAtEnd:   DiskRun{MBPerSec: 400},
		GroupCommit: DiskRun{SyncEveryBytes: 4 << 20, MBPerSec: 500}}
	rep := &Report{Disk: disk, PhaseDuration: 5 * time.Second, Rows: []ReportRow{
		{Phase: "produce", Client: ClientRaw, RecordSize: 1024, DiskRatio: 450.0 / disk.ReferenceMBPerSec(),
			Result: &Result{RecordsPerSec: 439453, MBPerSec: 450, Ack: lat, AckPerRequest: true}},
		{Phase: "consume", Client: ClientRaw, RecordSize: 1024,
			Result: &Result{RecordsPerSec: 900000, MBPerSec: 930, BatchBytes: true}},
		{Phase: "e2e", Client: ClientRaw, RecordSize: 100,
			Result: &Result{Rate: 500000, RecordsPerSec: 499000, MBPerSec: 49.9, Ack: lat, EndToEnd: lat}},
		{Phase: "e2e", Client: ClientKgo, RecordSize: 100, Err: fmt.Errorf("no peak")},
	}}
	var buf bytes.Buffer
	if err := rep.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"disk, sync every 4 MiB", "500.0",
		"produce", "439453", "90%", "ack/request  2.000ms  3.000ms  4.000ms  5.000ms",
		"930.0*",
		"e2e @500000/s", "end-to-end", "error: e2e kgo 100 B: no peak",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	if (*DiskResult)(nil).ReferenceMBPerSec() != 0 {
		t.Fatal("nil disk result has a bandwidth")
	}
}
