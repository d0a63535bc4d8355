package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadRequest selects records of one partition: from Offset, or from the
// first record at or after Timestamp (ms) when Timestamp >= 0, up to Limit
// records and never past EndOffset (exclusive, -1: the high watermark at
// the time of the request).
type ReadRequest struct {
	Partition int32
	Offset    int64 // -1: the partition's first offset; -2: Limit records before the end
	Timestamp int64 // -1: by offset
	EndOffset int64
	Limit     int
}

// ReadResponse is a page of records.
type ReadResponse struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Records   []Record `json:"records"`
	// NextOffset is where the next page starts.
	NextOffset int64 `json:"next_offset"`
	// StartOffset and HighWatermark bound the partition when read.
	StartOffset   int64 `json:"start_offset"`
	HighWatermark int64 `json:"high_watermark"`
}

// Read returns a page of records of one partition. It reads with a
// short-lived consumer of its own, so concurrent reads do not interfere.
func (s *Server) Read(ctx context.Context, topic string, rr ReadRequest) (ReadResponse, error) {
	n, err := s.partitions(ctx, topic)
	if err != nil {
		return ReadResponse{}, err
	}
	if rr.Partition < 0 || rr.Partition >= n {
		return ReadResponse{}, errorf(http.StatusNotFound, "topic %q has no partition %d (it has %d)", topic, rr.Partition, n)
	}
	if rr.Limit <= 0 || rr.Limit > s.cfg.readLimit {
		return ReadResponse{}, errorf(http.StatusBadRequest, "limit %d must be between 1 and %d", rr.Limit, s.cfg.readLimit)
	}
	starts, err := s.admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return ReadResponse{}, err
	}
	ends, err := s.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return ReadResponse{}, err
	}
	so, ok1 := starts.Lookup(topic, rr.Partition)
	eo, ok2 := ends.Lookup(topic, rr.Partition)
	if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
		return ReadResponse{}, fmt.Errorf("listing offsets of %s/%d: %v %v", topic, rr.Partition, so.Err, eo.Err)
	}
	resp := ReadResponse{Topic: topic, Partition: rr.Partition, Records: []Record{}, StartOffset: so.Offset, HighWatermark: eo.Offset}
	from := rr.Offset
	switch {
	case rr.Timestamp >= 0:
		after, err := s.admin.ListOffsetsAfterMilli(ctx, rr.Timestamp, topic)
		if err != nil {
			return ReadResponse{}, err
		}
		lo, ok := after.Lookup(topic, rr.Partition)
		if !ok || lo.Err != nil {
			return ReadResponse{}, fmt.Errorf("listing offsets after %d of %s/%d: %v", rr.Timestamp, topic, rr.Partition, lo.Err)
		}
		from = lo.Offset
	case from == -1:
		from = so.Offset
	case from == -2:
		from = max(eo.Offset-int64(rr.Limit), so.Offset)
	case from < -2:
		return ReadResponse{}, errorf(http.StatusBadRequest, "offset %d is negative", from)
	}
	from = max(from, so.Offset)
	end := eo.Offset
	if rr.EndOffset >= 0 {
		end = min(end, rr.EndOffset)
	}
	resp.NextOffset = from
	if from >= end {
		return resp, nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.seeds...),
		kgo.ClientID("eddy-gateway-read"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {rr.Partition: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.FetchMaxPartitionBytes(4 << 20),
	}, s.cfg.clientOpts...)...)
	if err != nil {
		return ReadResponse{}, err
	}
	defer cl.Close()
	for empty := 0; len(resp.Records) < rr.Limit && resp.NextOffset < end && empty < 3; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return ReadResponse{}, err
		}
		for _, fe := range fs.Errors() {
			return ReadResponse{}, fe.Err
		}
		got := 0
		for it := fs.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Offset >= end || len(resp.Records) >= rr.Limit {
				break
			}
			resp.Records = append(resp.Records, fromKgo(rec))
			resp.NextOffset = rec.Offset + 1
			got++
		}
		if got == 0 {
			// Only control batches or aborted records ahead: give up
			// after a few empty fetches rather than wait for the timeout.
			empty++
		}
	}
	return resp, nil
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) error {
	rr := ReadRequest{}
	var err error
	p, err := queryInt(r, "partition", 0)
	if err != nil {
		return err
	}
	rr.Partition = int32(p)
	q := r.URL.Query()
	if q.Get("offset") != "" && q.Get("timestamp") != "" {
		return errorf(http.StatusBadRequest, "give offset or timestamp, not both")
	}
	switch q.Get("offset") {
	case "", "earliest", "beginning":
		rr.Offset = -1
	case "latest", "end":
		rr.Offset = -2
	default:
		if rr.Offset, err = queryInt(r, "offset", -1); err != nil {
			return err
		}
		if rr.Offset < 0 {
			return errorf(http.StatusBadRequest, "offset %d is negative", rr.Offset)
		}
	}
	if rr.Timestamp, err = queryTime(r, "timestamp"); err != nil {
		return err
	}
	if rr.EndOffset, err = queryInt(r, "end_offset", -1); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	rr.Limit = int(limit)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	resp, err := s.Read(ctx, r.PathValue("topic"), rr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// queryTime reads a timestamp parameter: milliseconds since the epoch or
// RFC 3339; -1 when absent.
func queryTime(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return -1, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "%s=%q: want milliseconds since the epoch or an RFC 3339 time", name, s)
	}
	return t.UnixMilli(), nil
}

// handleTail streams a topic's new records as Server-Sent Events: one
// "record" event per record (data: the Record as JSON), a comment every
// 15 s to keep proxies from closing the stream. ?partition= limits it to
// one partition; ?from=beginning starts at the first offsets instead of the
// end. A slow reader slows the consumer: nothing is buffered beyond one
// fetch.
func (s *Server) handleTail(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	n, err := s.partitions(r.Context(), topic)
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtEnd()
	if r.URL.Query().Get("from") == "beginning" {
		start = kgo.NewOffset().AtStart()
	}
	parts := map[int32]kgo.Offset{}
	if r.URL.Query().Get("partition") != "" {
		p, err := queryInt(r, "partition", 0)
		if err != nil {
			return err
		}
		if p < 0 || p >= int64(n) {
			return errorf(http.StatusNotFound, "topic %q has no partition %d (it has %d)", topic, p, n)
		}
		parts[int32(p)] = start
	} else {
		for i := int32(0); i < n; i++ {
			parts[i] = start
		}
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.seeds...),
		kgo.ClientID("eddy-gateway-tail"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(time.Second),
	}, s.cfg.clientOpts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	sse, err := startSSE(w)
	if err != nil {
		return err
	}
	ctx := r.Context()
	go func() {
		// PollFetches ends when the stream's context does; the gateway's
		// shutdown ends it too.
		select {
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
		cl.Close()
	}()
	polls := make(chan kgo.Fetches)
	go func() {
		defer close(polls)
		for {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			select {
			case polls <- fs:
			case <-ctx.Done():
				return
			}
		}
	}()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	sse.comment("tailing " + topic)
	for {
		select {
		case <-keepAlive.C:
			if sse.comment("keep-alive") != nil {
				return nil
			}
		case fs, ok := <-polls:
			if !ok {
				return nil
			}
			for _, fe := range fs.Errors() {
				msg, _ := json.Marshal(errorBody{Status: http.StatusInternalServerError, Message: fe.Err.Error()})
				sse.event("error", msg)
			}
			for it := fs.RecordIter(); !it.Done(); {
				data, _ := json.Marshal(fromKgo(it.Next()))
				if sse.event("record", data) != nil {
					return nil
				}
			}
		}
	}
}
