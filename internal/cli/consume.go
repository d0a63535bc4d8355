package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeFlags struct {
	offset        string
	fromBeginning bool
	partitions    []int32
	count         int64
	format        string
	group         string
}

func newConsumeCommand(a *app) *cobra.Command {
	var cf consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Consume records and print them",
		Long: `Consume records from a topic and print them, by default one value per line.

--offset selects where to start in every partition:
  start          the log start offset (same as --from-beginning)
  end            the high watermark: only records produced from now on (default)
  N              exactly offset N (clamped into the log)
  @TIMESTAMP     the first record with timestamp >= TIMESTAMP, given in
                 milliseconds since the epoch or as RFC 3339

With --group the records are consumed in that consumer group, committing the
offsets of printed records; --offset then only applies to partitions the group
has no committed offset for.

The command exits after -n records, otherwise it runs until interrupted.

` + formatHelp,
		Example: `  eddy consume orders --from-beginning -n 10
  eddy consume orders --offset @1700000000000 --format '%p/%o %k=%v %h\n'
  eddy consume orders --partitions 0,2 --offset 100`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.consume(cmd.Context(), args[0], cf, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cf.offset, "offset", "o", "end", "where to start: start, end, N or @TIMESTAMP_MS")
	f.BoolVar(&cf.fromBeginning, "from-beginning", false, "start at the beginning of each partition (--offset start)")
	f.Int32SliceVarP(&cf.partitions, "partitions", "p", nil, "comma-separated partitions to consume (default all; not with --group)")
	f.Int64VarP(&cf.count, "num", "n", 0, "exit after consuming this many records (0: run until interrupted)")
	f.StringVarP(&cf.format, "format", "f", `%v\n`, "output template, see above")
	f.StringVarP(&cf.group, "group", "g", "", "consume in this consumer group")
	return cmd
}

// parseOffset parses a --offset value.
func parseOffset(s string) (kgo.Offset, error) {
	o := kgo.NewOffset()
	switch strings.ToLower(s) {
	case "start", "beginning", "oldest", "earliest":
		return o.AtStart(), nil
	case "end", "newest", "latest":
		return o.AtEnd(), nil
	}
	if ts, ok := strings.CutPrefix(s, "@"); ok {
		if ms, err := strconv.ParseInt(ts, 10, 64); err == nil {
			return o.AfterMilli(ms), nil
		}
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return o.AfterMilli(t.UnixMilli()), nil
		}
		return o, fmt.Errorf("invalid --offset %q: timestamp must be milliseconds since the epoch or RFC 3339", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return o, fmt.Errorf("invalid --offset %q (want start, end, N or @TIMESTAMP_MS)", s)
	}
	return o.At(n), nil
}

func (a *app) consume(ctx context.Context, topic string, cf consumeFlags, out io.Writer) error {
	if cf.fromBeginning {
		cf.offset = "start"
	}
	offset, err := parseOffset(cf.offset)
	if err != nil {
		return err
	}
	format, err := parseFormat(cf.format)
	if err != nil {
		return err
	}
	if cf.count < 0 {
		return fmt.Errorf("invalid -n %d", cf.count)
	}

	var opts []kgo.Opt
	switch {
	case cf.group != "" && len(cf.partitions) > 0:
		return errors.New("--partitions cannot be combined with --group")
	case cf.group != "":
		opts = append(opts,
			kgo.ConsumeTopics(topic),
			kgo.ConsumerGroup(cf.group),
			kgo.ConsumeStartOffset(offset),
			kgo.AutoCommitMarks(),
		)
	case len(cf.partitions) > 0:
		ps := make(map[int32]kgo.Offset, len(cf.partitions))
		for _, p := range cf.partitions {
			ps[p] = offset
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: ps}))
	default:
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeStartOffset(offset))
	}
	cl, err := a.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if cf.group != "" {
		defer func() {
			// The command context may already be cancelled (Ctrl-C):
			// commit what was printed with a fresh, bounded context.
			cctx, cancel := context.WithTimeout(context.Background(), a.timeout)
			defer cancel()
			if err := cl.CommitMarkedOffsets(cctx); err != nil {
				a.logger().Warn("committing offsets failed", "group", cf.group, "err", err)
			}
		}()
	}

	w := bufio.NewWriterSize(out, 64<<10)
	var (
		buf      []byte
		consumed int64
	)
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return w.Flush()
		}
		var fatal error
		fetches.EachError(func(t string, p int32, err error) {
			if fatal != nil {
				return
			}
			var dl *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			case kerr.IsRetriable(err), errors.As(err, &dl):
				a.logger().Warn("fetch error", "topic", t, "partition", p, "err", err)
			default:
				where := t
				if t != "" {
					where = fmt.Sprintf(" %s[%d]", t, p)
				}
				fatal = fmt.Errorf("consuming%s: %s", where, kafkaError(err, ""))
			}
		})
		if fatal != nil {
			w.Flush()
			return fatal
		}
		iter := fetches.RecordIter()
		for !iter.Done() {
			r := iter.Next()
			buf = format.append(buf[:0], r)
			if _, err := w.Write(buf); err != nil {
				return err
			}
			if cf.group != "" {
				cl.MarkCommitRecords(r)
			}
			consumed++
			if cf.count > 0 && consumed >= cf.count {
				return w.Flush()
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}
