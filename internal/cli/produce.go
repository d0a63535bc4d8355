package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/bench"
)

type produceFlags struct {
	keySep      string
	headers     []string
	partition   int32
	compression string
	acks        string
	maxLine     int
}

func newProduceCommand(a *app) *cobra.Command {
	var pf produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line of stdin",
		Long: `Produce records read from stdin, one record per line (the trailing newline,
and a preceding carriage return, are stripped).

With --key-separator each line is split at the first occurrence of the
separator into key and value; a line without the separator becomes a value
with no key. Headers given with -H key=value are attached to every record.

All records are flushed at EOF and the number produced is printed. The
command exits non-zero if any record failed.`,
		Example: `  printf 'k1:hello\nk2:world\n' | eddy produce orders --key-separator : -H source=cli
  eddy produce logs --compression zstd --acks 1 < app.log`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.produce(cmd.Context(), args[0], pf, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&pf.keySep, "key-separator", "K", "", "split each line into key and value at the first occurrence of this separator")
	f.StringArrayVarP(&pf.headers, "header", "H", nil, "record header key=value (repeatable)")
	f.Int32VarP(&pf.partition, "partition", "p", -1, "produce to this partition (-1: partition by key, sticky for no key)")
	f.StringVarP(&pf.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.StringVar(&pf.acks, "acks", "all", "required acks: all, 1 or 0")
	f.IntVar(&pf.maxLine, "max-line-bytes", 16<<20, "maximum length of one input line")
	return cmd
}

func (a *app) produce(ctx context.Context, topic string, pf produceFlags, in io.Reader, out io.Writer) error {
	kvs, err := parseKeyValues("-H", pf.headers)
	if err != nil {
		return err
	}
	headers := make([]kgo.RecordHeader, len(kvs))
	for i, kv := range kvs {
		headers[i] = kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])}
	}
	opts, err := bench.ProducerOptions(pf.acks, pf.compression)
	if err != nil {
		return err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic))
	if pf.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := a.newClient(opts...)
	if err != nil {
		return err
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, bad  int64
		firstErr error
	)
	promise := func(r *kgo.Record, err error) {
		defer wg.Done()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if bad == 0 {
				firstErr = err
			}
			bad++
			a.logger().Debug("record failed", "topic", r.Topic, "partition", r.Partition, "err", err)
			return
		}
		ok++
	}

	sep := []byte(pf.keySep)
	br := bufio.NewReaderSize(in, 64<<10)
	var readErr error
	for ctx.Err() == nil {
		line, err := readLine(br, pf.maxLine)
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = err
			break
		}
		if line != nil {
			r := &kgo.Record{Value: line, Partition: pf.partition}
			if len(sep) > 0 {
				if k, v, found := bytes.Cut(line, sep); found {
					r.Key, r.Value = k, v
				}
			}
			if len(headers) > 0 {
				r.Headers = append([]kgo.RecordHeader(nil), headers...)
			}
			wg.Add(1)
			cl.Produce(ctx, r, promise)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	flushErr := cl.Flush(ctx)
	// Closing fails anything still buffered (only possible after a
	// cancellation), so that every promise has run before counting.
	cl.Close()
	wg.Wait()

	total := ok + bad
	if bad == 0 && readErr == nil && flushErr == nil && ctx.Err() == nil {
		_, err := fmt.Fprintf(out, "Produced %d records to topic %s\n", ok, topic)
		return err
	}
	fmt.Fprintf(out, "Produced %d of %d records to topic %s (%d failed)\n", ok, total, topic, bad)
	switch {
	case readErr != nil:
		return fmt.Errorf("reading stdin: %w", readErr)
	case bad > 0:
		return fmt.Errorf("%d of %d records failed, first error: %s", bad, total, kafkaError(firstErr, ""))
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	}
	return ctx.Err()
}

// readLine returns the next line without its "\n" or "\r\n" terminator. At
// EOF it returns the final unterminated line (or nil if there is none)
// together with io.EOF. The returned slice is freshly allocated.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max+2 {
			return nil, fmt.Errorf("line longer than %d bytes (see --max-line-bytes)", max)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			return bytes.TrimSuffix(line, []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimSuffix(line, []byte("\r")), io.EOF
		default:
			return nil, err
		}
	}
}
