package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceRequest is the body of POST /api/v1/topics/{topic}/records:
// either one record's fields at the top level, or {"records": [...]}.
type ProduceRequest struct {
	Records []Record `json:"records,omitempty"`
	Record
}

// ProduceResult is where one record was written, or why it was not.
type ProduceResult struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Error     string `json:"error,omitempty"`
}

// ProduceResponse answers a produce request, one result per record in
// request order.
type ProduceResponse struct {
	Offsets []ProduceResult `json:"offsets"`
}

const topicCacheTTL = 2 * time.Second

// partitions returns how many partitions topic has, from a short-lived
// cache of the cluster's metadata; an unknown topic is a 404 (the gateway
// never creates topics by producing to them).
func (s *Server) partitions(ctx context.Context, topic string) (int32, error) {
	s.topicsMu.Lock()
	n, ok := s.topicsMu.parts[topic]
	fresh := time.Since(s.topicsMu.fetched) < topicCacheTTL
	s.topicsMu.Unlock()
	if ok && fresh {
		return n, nil
	}
	details, err := s.admin.ListTopicsWithInternal(ctx)
	if err != nil {
		return 0, err
	}
	parts := make(map[string]int32, len(details))
	for name, d := range details {
		if d.Err == nil {
			parts[name] = int32(len(d.Partitions))
		}
	}
	s.topicsMu.Lock()
	s.topicsMu.parts, s.topicsMu.fetched = parts, time.Now()
	s.topicsMu.Unlock()
	if n, ok := parts[topic]; ok {
		return n, nil
	}
	return 0, errorf(http.StatusNotFound, "topic %q does not exist", topic)
}

// forgetTopics drops the metadata cache (after topic admin).
func (s *Server) forgetTopics() {
	s.topicsMu.Lock()
	s.topicsMu.fetched = time.Time{}
	s.topicsMu.Unlock()
}

// Produce writes records to topic and reports where each went. Every
// record is checked before any is sent: bad input writes nothing. Records
// to different partitions may fail separately (a per-record Error).
func (s *Server) Produce(ctx context.Context, topic string, records []Record) (ProduceResponse, error) {
	if len(records) == 0 {
		return ProduceResponse{}, errorf(http.StatusBadRequest, "no records to produce")
	}
	n, err := s.partitions(ctx, topic)
	if err != nil {
		return ProduceResponse{}, err
	}
	krs := make([]*kgo.Record, len(records))
	for i := range records {
		kr, err := records[i].toKgo(topic)
		if err != nil {
			return ProduceResponse{}, errorf(http.StatusBadRequest, "record %d: %v", i, err)
		}
		if kr.Partition >= n {
			return ProduceResponse{}, errorf(http.StatusNotFound, "record %d: topic %q has no partition %d (it has %d)", i, topic, kr.Partition, n)
		}
		krs[i] = kr
	}
	// ProduceSync gives results in the order they complete, not the order
	// of the records: answer in request order.
	index := make(map[*kgo.Record]int, len(krs))
	for i, kr := range krs {
		index[kr] = i
	}
	results := s.producer().ProduceSync(ctx, krs...)
	out := ProduceResponse{Offsets: make([]ProduceResult, len(krs))}
	var firstErr error
	for _, r := range results {
		i := index[r.Record]
		out.Offsets[i] = ProduceResult{Partition: r.Record.Partition, Offset: r.Record.Offset}
		if r.Err != nil {
			out.Offsets[i] = ProduceResult{Partition: r.Record.Partition, Offset: -1, Error: r.Err.Error()}
			if firstErr == nil {
				firstErr = r.Err
			}
		}
	}
	if firstErr != nil {
		if errors.Is(firstErr, kerr.UnknownTopicOrPartition) {
			s.forgetTopics()
		}
		return out, firstErr
	}
	return out, nil
}

func (s *Server) handleProduce(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	// Before reading the body: an unknown topic is refused without it.
	if _, err := s.partitions(r.Context(), topic); err != nil {
		return err
	}
	var req ProduceRequest
	if err := decodeBody(w, r, s.cfg.maxBody, &req); err != nil {
		return err
	}
	records := req.Records
	if len(records) == 0 {
		if req.Record.Key == nil && req.Record.Value == nil && req.Record.KeyBase64 == "" && req.Record.ValueBase64 == "" && len(req.Record.Headers) == 0 {
			return errorf(http.StatusBadRequest, `no records: send {"key": ..., "value": ...} or {"records": [...]}`)
		}
		records = []Record{req.Record}
	} else if req.Record.Key != nil || req.Record.Value != nil || req.Record.Partition != nil {
		return errorf(http.StatusBadRequest, `give either one record's fields or "records", not both`)
	}
	resp, err := s.Produce(r.Context(), topic, records)
	if err != nil {
		status, msg := statusOf(err)
		if resp.Offsets == nil {
			return err
		}
		writeJSON(w, status, struct {
			errorBody
			ProduceResponse
		}{errorBody{status, msg}, resp})
		return nil
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// decodeBody reads at most max bytes of JSON into v: a larger body is a
// 413, malformed JSON or unknown fields a 400.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "bad JSON body: more than one JSON value")
	}
	return nil
}
