package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is a record as the API takes and gives it.
//
// On input, Key and Value are any JSON value: a string is stored as its
// text, anything else as its compact JSON encoding; KeyBase64 and
// ValueBase64 carry binary data instead. Partition is optional (absent: by
// key hash, or spread when there is no key); Timestamp (ms) is optional.
//
// On output, Key and Value are strings when the bytes are UTF-8 text and
// are otherwise left out in favour of KeyBase64/ValueBase64; a null key or
// value is left out.
type Record struct {
	Key         json.RawMessage `json:"key,omitempty"`
	KeyBase64   string          `json:"key_base64,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 string          `json:"value_base64,omitempty"`
	Headers     Headers         `json:"headers,omitempty"`
	Partition   *int32          `json:"partition,omitempty"`
	Offset      *int64          `json:"offset,omitempty"`
	Timestamp   *int64          `json:"timestamp,omitempty"`
}

// Header is one record header.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Headers are a record's headers in order. On input they may also be a
// JSON object of string values.
type Headers []Header

func (h *Headers) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("headers: want an object of strings or an array of {key, value}: %w", err)
		}
		for k, v := range m {
			*h = append(*h, Header{Key: k, Value: v})
		}
		return nil
	}
	var a []Header
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("headers: want an object of strings or an array of {key, value}: %w", err)
	}
	*h = a
	return nil
}

// bytesOf returns the bytes a JSON field stands for: nil for absent or
// null, a string's text, any other value's compact encoding.
func bytesOf(raw json.RawMessage, b64, name string) ([]byte, error) {
	if b64 != "" {
		if len(raw) > 0 {
			return nil, fmt.Errorf("give %s or %s_base64, not both", name, name)
		}
		out, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%s_base64: %w", name, err)
		}
		return out, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// textOrBase64 fills the output form of a key or value.
func textOrBase64(b []byte) (json.RawMessage, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		raw, _ := json.Marshal(string(b))
		return raw, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}

// toKgo converts an API record to a kgo record for topic.
func (r *Record) toKgo(topic string) (*kgo.Record, error) {
	key, err := bytesOf(r.Key, r.KeyBase64, "key")
	if err != nil {
		return nil, err
	}
	value, err := bytesOf(r.Value, r.ValueBase64, "value")
	if err != nil {
		return nil, err
	}
	kr := &kgo.Record{Topic: topic, Key: key, Value: value, Partition: -1}
	if r.Partition != nil {
		if *r.Partition < 0 {
			return nil, fmt.Errorf("partition %d is negative", *r.Partition)
		}
		kr.Partition = *r.Partition
	}
	if r.Timestamp != nil {
		kr.Timestamp = time.UnixMilli(*r.Timestamp)
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	return kr, nil
}

// fromKgo converts a consumed record to its API form.
func fromKgo(kr *kgo.Record) Record {
	var r Record
	r.Key, r.KeyBase64 = textOrBase64(kr.Key)
	r.Value, r.ValueBase64 = textOrBase64(kr.Value)
	p, o, ts := kr.Partition, kr.Offset, kr.Timestamp.UnixMilli()
	r.Partition, r.Offset, r.Timestamp = &p, &o, &ts
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, Header{Key: h.Key, Value: string(h.Value)})
	}
	return r
}

// gatewayPartitioner honours a record's explicit partition and otherwise
// uses the inner partitioner (Kafka's murmur2 for keys, sticky for none).
// Records to be partitioned automatically carry Partition -1.
type gatewayPartitioner struct{ inner kgo.Partitioner }

func (p gatewayPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &gatewayTopicPartitioner{inner: p.inner.ForTopic(topic)}
}

type gatewayTopicPartitioner struct{ inner kgo.TopicPartitioner }

func (p *gatewayTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.inner.RequiresConsistency(r)
}

func (p *gatewayTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.inner.Partition(r, n)
}

func (p *gatewayTopicPartitioner) OnNewBatch() {
	if o, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		o.OnNewBatch()
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "query parameter %s=%q is not an integer", name, s)
	}
	return n, nil
}
