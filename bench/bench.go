// Package bench measures a Kafka-protocol cluster (Eddy or any Kafka) and the
// disk under it: produce throughput with acknowledgement latency, consume
// throughput, produce-to-consume (end-to-end) latency, and the sequential
// write speed of a directory as a baseline for the broker's figures.
//
// Each measurement is a function taking a config and returning a result
// struct, so the same code backs the "eddy bench" commands and Go
// benchmarks:
//
//	res, err := bench.Produce(ctx, bench.Config{Brokers: addrs, Topic: "t", Records: 100_000})
//	b.ReportMetric(res.RecordsPerSec, "records/s")
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TimestampSize is the number of leading value bytes holding the send time
// (big-endian Unix nanoseconds) of every benchmark record.
const TimestampSize = 8

// Config parameterises Produce, Consume and EndToEnd. Zero values select the
// documented defaults.
type Config struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string
	// Topic is the topic to produce to and consume from. It is created if
	// missing. Default "eddy-bench".
	Topic string
	// Partitions and Replicas are used when the topic has to be created;
	// 0 or -1 selects the broker default.
	Partitions int32
	Replicas   int16
	// TopicConfigs are the topic configs used when the topic has to be
	// created, e.g. flush.messages to relax the durability of an Eddy topic.
	TopicConfigs map[string]*string

	// RecordSize is the value size in bytes. Default 100. The first
	// TimestampSize bytes carry the send time (EndToEnd requires at least
	// that many); the rest is random, incompressible filler.
	RecordSize int
	// Records and Duration bound the run: producing (or consuming) stops at
	// whichever is reached first. At least one must be set, except for
	// Consume, which otherwise reads everything in the topic.
	Records  int64
	Duration time.Duration

	// Client selects the client: "kgo" (default) uses franz-go, as an
	// application would; "raw" uses the package's low-cost load generator
	// (pre-encoded batches, pipelined requests, header-only fetch
	// parsing), so that the broker rather than the client is measured.
	Client string
	// Producers is the number of concurrent producer clients (each with
	// its own connections); with the raw client, the number of
	// connections to each partition leader. Default 1.
	Producers int
	// InFlight is the number of requests the raw client keeps in flight
	// per connection. Default 8.
	InFlight int
	// FetchMaxBytes is the raw consumer's per-partition fetch size.
	// Default 1 MiB, as franz-go's.
	FetchMaxBytes int32
	// Acks is "all" (default), "1" or "0".
	Acks string
	// Compression is "none" (default), "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// BatchMaxBytes caps a record batch; 0 selects the client default
	// (1000012 bytes).
	BatchMaxBytes int32
	// Linger is how long a partition waits for more records before its
	// batch is sent; 0 sends immediately, negative selects the client
	// default (10ms).
	Linger time.Duration
	// Rate is the target produce rate in records per second across all
	// producers; 0 means as fast as possible. With a rate, latency is
	// measured from each record's scheduled send time.
	Rate float64

	// DrainTimeout bounds how long EndToEnd waits for the consumer to
	// receive every acknowledged record after producing ends, and how long
	// Consume waits without progress. Default 30s.
	DrainTimeout time.Duration

	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
	// ClientOpts are extra franz-go options for every client (for example
	// kgo.WithLogger or SASL/TLS settings).
	ClientOpts []kgo.Opt
}

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = "eddy-bench"
	}
	if c.RecordSize == 0 {
		c.RecordSize = 100
	}
	if c.Client == "" {
		c.Client = ClientKgo
	}
	c.Client = strings.ToLower(c.Client)
	if c.Producers <= 0 {
		c.Producers = 1
	}
	if c.InFlight <= 0 {
		c.InFlight = 8
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = 1 << 20
	}
	c.Acks = strings.ToLower(c.Acks)
	c.Compression = strings.ToLower(c.Compression)
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.Partitions == 0 {
		c.Partitions = -1
	}
	if c.Replicas == 0 {
		c.Replicas = -1
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// The clients Config.Client selects.
const (
	ClientKgo = "kgo"
	ClientRaw = "raw"
)

// validateClient checks Config.Client.
func (c Config) validateClient() error {
	if c.Client != ClientKgo && c.Client != ClientRaw {
		return fmt.Errorf("bench: invalid client %q (want kgo or raw)", c.Client)
	}
	return nil
}

// validateProduce checks the fields a producing run needs.
func (c Config) validateProduce() error {
	if err := c.validateClient(); err != nil {
		return err
	}
	switch {
	case len(c.Brokers) == 0:
		return errors.New("bench: no brokers")
	case c.Records < 0 || c.Duration < 0 || c.Rate < 0 || c.RecordSize < 0:
		return errors.New("bench: Records, Duration, Rate and RecordSize must not be negative")
	case c.Records == 0 && c.Duration == 0:
		return errors.New("bench: set Records or Duration to bound the run")
	}
	return nil
}

// ProducerOptions returns the franz-go producer options for an acks setting
// ("all", "1" or "0") and a compression codec name ("none", "gzip",
// "snappy", "lz4" or "zstd"). Acks other than all disable idempotent writes,
// which Kafka only allows with acks=all.
func ProducerOptions(acks, compression string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	switch strings.ToLower(acks) {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1", "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0", "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("invalid acks %q (want all, 1 or 0)", acks)
	}
	codec, err := CompressionCodec(compression)
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.ProducerBatchCompression(codec)), nil
}

// CompressionCodec returns the franz-go codec named "none" (or ""),
// "gzip", "snappy", "lz4" or "zstd".
func CompressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("invalid compression %q (want none, gzip, snappy, lz4 or zstd)", name)
}

// newClient creates a client for cfg with extra options.
func (c Config) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID("eddy-bench")}, c.ClientOpts...)
	return kgo.NewClient(append(all, opts...)...)
}

// EnsureTopic creates topic with the given partitions and replication factor
// (-1 for broker defaults) unless it already exists.
func EnsureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, replicas int16) error {
	return ensureTopicWith(ctx, adm, topic, partitions, replicas, nil)
}

// ensureTopicWith is EnsureTopic with topic configs for the creation.
func ensureTopicWith(ctx context.Context, adm *kadm.Client, topic string, partitions int32, replicas int16, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, partitions, replicas, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		if resp.ErrMessage != "" {
			return fmt.Errorf("creating topic %s: %w: %s", topic, err, resp.ErrMessage)
		}
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

// ensureTopic creates cfg.Topic if needed, using a short-lived client.
func (c Config) ensureTopic(ctx context.Context) error {
	cl, err := c.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	return ensureTopicWith(ctx, kadm.NewClient(cl), c.Topic, c.Partitions, c.Replicas, c.TopicConfigs)
}

// listOffsets returns the start and end offsets of every partition of topic.
func listOffsets(ctx context.Context, adm *kadm.Client, topic string) (start, end map[int32]int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("listing end offsets: %w", err)
	}
	start, end = make(map[int32]int64), make(map[int32]int64)
	for _, os := range []struct {
		lo  kadm.ListedOffsets
		dst map[int32]int64
	}{{starts, start}, {ends, end}} {
		if err := os.lo.Error(); err != nil {
			return nil, nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
		}
		os.lo.Each(func(o kadm.ListedOffset) {
			if o.Topic == topic {
				os.dst[o.Partition] = o.Offset
			}
		})
	}
	if len(end) == 0 {
		return nil, nil, fmt.Errorf("topic %s has no partitions (does it exist?)", topic)
	}
	return start, end, nil
}
