package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Go clients run in the test process; they need no install step.

func init() {
	sarama.Logger = log.New(io.Discard, "", 0)
}

// consumeEach runs one read per job, each within jobTimeout; a failed read
// is reported in its own result and does not stop the others, but once one
// has timed out the rest are not run (and fail), so that a broker that
// hangs fails the suite quickly.
func consumeEach(ctx context.Context, jobs []consumeJob, read func(ctx context.Context, j consumeJob) ([]wireRecord, error)) map[string]consumeResult {
	out := make(map[string]consumeResult, len(jobs))
	var timedOut string
	for _, j := range jobs {
		if timedOut != "" {
			out[j.ID] = consumeResult{Error: "not run: the read of " + timedOut + " timed out"}
			continue
		}
		jctx, cancel := context.WithTimeout(ctx, jobTimeout)
		recs, err := read(jctx, j)
		if jctx.Err() != nil {
			timedOut = j.ID
		}
		cancel()
		res := consumeResult{Records: recs}
		if err != nil {
			res.Error = err.Error()
		}
		out[j.ID] = res
	}
	return out
}

// produceEach runs one write per job.
func produceEach(ctx context.Context, jobs []produceJob, write func(ctx context.Context, j produceJob) error) map[string]produceResult {
	out := make(map[string]produceResult, len(jobs))
	for _, j := range jobs {
		var res produceResult
		if err := write(ctx, j); err != nil {
			res.Error = err.Error()
		}
		out[j.Topic] = res
	}
	return out
}

// ---- franz-go (github.com/twmb/franz-go/pkg/kgo) ----

var franzClient = &client{
	name:       "franz-go",
	headers:    headersPerRecord,
	timestamps: true,
	produce: func(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error) {
		return produceEach(ctx, jobs, func(ctx context.Context, j produceJob) error {
			codec, err := franzCodec(j.Codec)
			if err != nil {
				return err
			}
			cl, err := kgo.NewClient(
				kgo.SeedBrokers(splitAddrs(bootstrap)...),
				kgo.DefaultProduceTopic(j.Topic),
				kgo.RecordPartitioner(kgo.ManualPartitioner()),
				kgo.ProducerBatchCompression(codec),
			)
			if err != nil {
				return err
			}
			defer cl.Close()
			recs := make([]*kgo.Record, len(j.Records))
			for i, r := range j.Records {
				kr := &kgo.Record{Key: r.Key, Value: r.Value, Partition: 0, Timestamp: time.UnixMilli(r.Timestamp)}
				for _, h := range r.Headers {
					kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
				}
				recs[i] = kr
			}
			return cl.ProduceSync(ctx, recs...).FirstErr()
		}), nil
	},
	consume: func(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error) {
		return consumeEach(ctx, jobs, franzRead(bootstrap)), nil
	},
}

func franzCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
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
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q", name)
}

func franzRead(bootstrap string) func(ctx context.Context, j consumeJob) ([]wireRecord, error) {
	return func(ctx context.Context, j consumeJob) ([]wireRecord, error) {
		off := kgo.NewOffset().AtStart()
		if j.From == fromTimestamp {
			off = kgo.NewOffset().AfterMilli(j.Timestamp)
		}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(splitAddrs(bootstrap)...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{j.Topic: {0: off}}),
		)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		// Where the read starts and ends, to stop at the end.
		adm := kadm.NewClient(cl)
		ends, err := adm.ListEndOffsets(ctx, j.Topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		end, _ := ends.Lookup(j.Topic, 0)
		var starts kadm.ListedOffsets
		if j.From == fromTimestamp {
			starts, err = adm.ListOffsetsAfterMilli(ctx, j.Timestamp, j.Topic)
		} else {
			starts, err = adm.ListStartOffsets(ctx, j.Topic)
		}
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list start offsets: %w", err)
		}
		start, _ := starts.Lookup(j.Topic, 0)
		if start.Offset < 0 || start.Offset >= end.Offset {
			return nil, nil
		}
		var recs []wireRecord
		for len(recs) == 0 || recs[len(recs)-1].Offset < end.Offset-1 {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return recs, fmt.Errorf("read %d records, stopped before offset %d: %w", len(recs), end.Offset-1, err)
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
			if ferr != nil {
				return recs, ferr
			}
			fs.EachRecord(func(r *kgo.Record) {
				w := wireRecord{Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
				for _, h := range r.Headers {
					w.Headers = append(w.Headers, wireHeader{Key: h.Key, Value: h.Value})
				}
				recs = append(recs, w)
			})
		}
		return recs, nil
	}
}

// ---- sarama (github.com/IBM/sarama) ----

var saramaClient = &client{
	name:       "sarama",
	headers:    headersPerRecord,
	timestamps: true,
	produce: func(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error) {
		return produceEach(ctx, jobs, func(ctx context.Context, j produceJob) error {
			cfg := saramaConfig()
			switch j.Codec {
			case "none":
				cfg.Producer.Compression = sarama.CompressionNone
			case "gzip":
				cfg.Producer.Compression = sarama.CompressionGZIP
			case "snappy":
				cfg.Producer.Compression = sarama.CompressionSnappy
			case "lz4":
				cfg.Producer.Compression = sarama.CompressionLZ4
			case "zstd":
				cfg.Producer.Compression = sarama.CompressionZSTD
			default:
				return fmt.Errorf("unknown codec %q", j.Codec)
			}
			p, err := sarama.NewSyncProducer(splitAddrs(bootstrap), cfg)
			if err != nil {
				return err
			}
			defer p.Close()
			msgs := make([]*sarama.ProducerMessage, len(j.Records))
			for i, r := range j.Records {
				m := &sarama.ProducerMessage{
					Topic:     j.Topic,
					Partition: 0,
					Key:       sarama.ByteEncoder(r.Key),
					Value:     sarama.ByteEncoder(r.Value),
					Timestamp: time.UnixMilli(r.Timestamp),
				}
				for _, h := range r.Headers {
					m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
				}
				msgs[i] = m
			}
			return p.SendMessages(msgs)
		}), nil
	},
	consume: func(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error) {
		return consumeEach(ctx, jobs, func(ctx context.Context, j consumeJob) ([]wireRecord, error) {
			cl, err := sarama.NewClient(splitAddrs(bootstrap), saramaConfig())
			if err != nil {
				return nil, err
			}
			defer cl.Close()
			end, err := cl.GetOffset(j.Topic, 0, sarama.OffsetNewest)
			if err != nil {
				return nil, fmt.Errorf("get end offset: %w", err)
			}
			start := sarama.OffsetOldest
			first, err := cl.GetOffset(j.Topic, 0, sarama.OffsetOldest)
			if j.From == fromTimestamp {
				// ListOffsets by timestamp: the first offset whose
				// timestamp is at or after it.
				first, err = cl.GetOffset(j.Topic, 0, j.Timestamp)
				start = first
			}
			if err != nil {
				return nil, fmt.Errorf("get start offset: %w", err)
			}
			if first < 0 || first >= end {
				return nil, nil
			}
			cons, err := sarama.NewConsumerFromClient(cl)
			if err != nil {
				return nil, err
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition(j.Topic, 0, start)
			if err != nil {
				return nil, err
			}
			defer pc.Close()
			var recs []wireRecord
			for len(recs) == 0 || recs[len(recs)-1].Offset < end-1 {
				select {
				case m := <-pc.Messages():
					w := wireRecord{Offset: m.Offset, Timestamp: m.Timestamp.UnixMilli(), Key: m.Key, Value: m.Value}
					for _, h := range m.Headers {
						w.Headers = append(w.Headers, wireHeader{Key: string(h.Key), Value: h.Value})
					}
					recs = append(recs, w)
				case err := <-pc.Errors():
					return recs, err
				case <-ctx.Done():
					return recs, fmt.Errorf("read %d records, stopped before offset %d: %w", len(recs), end-1, ctx.Err())
				}
			}
			return recs, nil
		}), nil
	},
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "eddy-interop-sarama"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.MaxMessageBytes = 4 << 20
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	return cfg
}

// ---- segmentio/kafka-go (github.com/segmentio/kafka-go) ----

var kafkaGoClient = &client{
	name:       "kafka-go",
	headers:    headersPerRecord,
	timestamps: true,
	produce: func(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error) {
		return produceEach(ctx, jobs, func(ctx context.Context, j produceJob) error {
			var codec kafkago.Compression
			switch j.Codec {
			case "none":
			case "gzip":
				codec = kafkago.Gzip
			case "snappy":
				codec = kafkago.Snappy
			case "lz4":
				codec = kafkago.Lz4
			case "zstd":
				codec = kafkago.Zstd
			default:
				return fmt.Errorf("unknown codec %q", j.Codec)
			}
			w := &kafkago.Writer{
				Addr:         kafkago.TCP(splitAddrs(bootstrap)...),
				Topic:        j.Topic,
				Balancer:     &kafkago.LeastBytes{},
				Compression:  codec,
				RequiredAcks: kafkago.RequireAll,
				BatchSize:    len(j.Records),
				BatchTimeout: 10 * time.Millisecond,
			}
			msgs := make([]kafkago.Message, len(j.Records))
			for i, r := range j.Records {
				m := kafkago.Message{Key: r.Key, Value: r.Value, Time: time.UnixMilli(r.Timestamp)}
				for _, h := range r.Headers {
					m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
				}
				msgs[i] = m
			}
			err := w.WriteMessages(ctx, msgs...)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		}), nil
	},
	consume: func(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error) {
		return consumeEach(ctx, jobs, func(ctx context.Context, j consumeJob) ([]wireRecord, error) {
			addrs := splitAddrs(bootstrap)
			conn, err := kafkago.DialLeader(ctx, "tcp", addrs[0], j.Topic, 0)
			if err != nil {
				return nil, fmt.Errorf("dial leader: %w", err)
			}
			first, end, err := conn.ReadOffsets()
			conn.Close()
			if err != nil {
				return nil, fmt.Errorf("read offsets: %w", err)
			}
			r := kafkago.NewReader(kafkago.ReaderConfig{
				Brokers:   addrs,
				Topic:     j.Topic,
				Partition: 0,
				MinBytes:  1,
				MaxBytes:  10 << 20,
				MaxWait:   100 * time.Millisecond,
			})
			defer r.Close()
			if j.From == fromTimestamp {
				if err := r.SetOffsetAt(ctx, time.UnixMilli(j.Timestamp)); err != nil {
					return nil, fmt.Errorf("set offset at %d: %w", j.Timestamp, err)
				}
				first = r.Offset()
			} else if err := r.SetOffset(kafkago.FirstOffset); err != nil {
				return nil, err
			}
			if first < 0 || first >= end {
				return nil, nil
			}
			var recs []wireRecord
			for len(recs) == 0 || recs[len(recs)-1].Offset < end-1 {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return recs, fmt.Errorf("read %d records, stopped before offset %d: %w", len(recs), end-1, err)
				}
				w := wireRecord{Offset: m.Offset, Timestamp: m.Time.UnixMilli(), Key: m.Key, Value: m.Value}
				for _, h := range m.Headers {
					w.Headers = append(w.Headers, wireHeader{Key: h.Key, Value: h.Value})
				}
				recs = append(recs, w)
			}
			return recs, nil
		}), nil
	},
}
