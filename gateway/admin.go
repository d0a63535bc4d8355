package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TopicSummary is one topic in the topic list.
type TopicSummary struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Internal   bool   `json:"internal"`
	// Records is the sum over partitions of high watermark minus start
	// offset (compacted-away and control records included).
	Records int64 `json:"records"`
}

// PartitionInfo describes one partition.
type PartitionInfo struct {
	Partition     int32 `json:"partition"`
	Leader        int32 `json:"leader"`
	StartOffset   int64 `json:"start_offset"`
	HighWatermark int64 `json:"high_watermark"`
}

// TopicDescription describes one topic.
type TopicDescription struct {
	Name       string          `json:"name"`
	ID         string          `json:"id"`
	Internal   bool            `json:"internal"`
	Partitions []PartitionInfo `json:"partitions"`
	Configs    []ConfigEntry   `json:"configs"`
}

// ConfigEntry is one topic config and where its value comes from.
type ConfigEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive,omitempty"`
}

// CreateTopicRequest is the body of POST /api/v1/topics.
type CreateTopicRequest struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
}

// AlterConfigsRequest is the body of PATCH /api/v1/topics/{topic}/configs:
// configs to set and configs to reset to their defaults.
type AlterConfigsRequest struct {
	Set    map[string]string `json:"set"`
	Delete []string          `json:"delete"`
}

func (s *Server) adminCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}

// Topics lists the cluster's topics with their sizes in records.
func (s *Server) Topics(ctx context.Context, internal bool) ([]TopicSummary, error) {
	var details kadm.TopicDetails
	var err error
	if internal {
		details, err = s.admin.ListTopicsWithInternal(ctx)
	} else {
		details, err = s.admin.ListTopics(ctx)
	}
	if err != nil {
		return nil, err
	}
	names := details.Names()
	starts, err := s.admin.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	ends, err := s.admin.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := []TopicSummary{}
	for _, name := range names {
		d := details[name]
		ts := TopicSummary{Name: name, Partitions: len(d.Partitions), Internal: d.IsInternal}
		for p := range d.Partitions {
			so, ok1 := starts.Lookup(name, p)
			eo, ok2 := ends.Lookup(name, p)
			if ok1 && ok2 && so.Err == nil && eo.Err == nil {
				ts.Records += eo.Offset - so.Offset
			}
		}
		out = append(out, ts)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DescribeTopic describes a topic: partitions, offsets and configs.
func (s *Server) DescribeTopic(ctx context.Context, topic string) (TopicDescription, error) {
	details, err := s.admin.ListTopicsWithInternal(ctx, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return TopicDescription{}, errorf(http.StatusNotFound, "topic %q does not exist", topic)
	}
	if err != nil {
		return TopicDescription{}, err
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		return TopicDescription{}, errorf(http.StatusNotFound, "topic %q does not exist", topic)
	}
	out := TopicDescription{Name: topic, ID: d.ID.String(), Internal: d.IsInternal, Partitions: []PartitionInfo{}}
	starts, err := s.admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return TopicDescription{}, err
	}
	ends, err := s.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return TopicDescription{}, err
	}
	for _, p := range d.Partitions.Sorted() {
		pi := PartitionInfo{Partition: p.Partition, Leader: p.Leader, StartOffset: -1, HighWatermark: -1}
		if o, ok := starts.Lookup(topic, p.Partition); ok && o.Err == nil {
			pi.StartOffset = o.Offset
		}
		if o, ok := ends.Lookup(topic, p.Partition); ok && o.Err == nil {
			pi.HighWatermark = o.Offset
		}
		out.Partitions = append(out.Partitions, pi)
	}
	out.Configs, err = s.TopicConfigs(ctx, topic)
	return out, err
}

// TopicConfigs returns every config of a topic with its source.
func (s *Server) TopicConfigs(ctx context.Context, topic string) ([]ConfigEntry, error) {
	rcs, err := s.admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return nil, errorf(http.StatusNotFound, "topic %q does not exist", topic)
	}
	if rc.Err != nil {
		return nil, rc.Err
	}
	out := []ConfigEntry{}
	for _, c := range rc.Configs {
		src := c.Source.String()
		out = append(out, ConfigEntry{Name: c.Key, Value: c.Value, Source: src, Sensitive: c.Sensitive})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateTopic creates a topic.
func (s *Server) CreateTopic(ctx context.Context, req CreateTopicRequest) error {
	if req.Name == "" {
		return errorf(http.StatusBadRequest, "a topic needs a name")
	}
	if req.Partitions == 0 {
		req.Partitions = -1 // the broker's num.partitions
	}
	if req.ReplicationFactor == 0 {
		req.ReplicationFactor = -1
	}
	cfg := map[string]*string{}
	for k, v := range req.Configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := s.admin.CreateTopic(ctx, req.Partitions, req.ReplicationFactor, cfg, req.Name)
	s.forgetTopics()
	if err != nil {
		return err
	}
	return resp.Err
}

// DeleteTopic deletes a topic.
func (s *Server) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := s.admin.DeleteTopic(ctx, topic)
	s.forgetTopics()
	for _, p := range s.producers {
		p.PurgeTopicsFromClient(topic)
	}
	if err != nil {
		return err
	}
	return resp.Err
}

// AlterTopicConfigs sets and resets topic configs in one request.
func (s *Server) AlterTopicConfigs(ctx context.Context, topic string, req AlterConfigsRequest) error {
	var alters []kadm.AlterConfig
	for k, v := range req.Set {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	for _, k := range req.Delete {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		return errorf(http.StatusBadRequest, `nothing to change: give "set" and/or "delete"`)
	}
	resps, err := s.admin.AlterTopicConfigs(ctx, alters, topic)
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return errorf(kafkaStatusOf(r.Err), "%v: %s", r.Err, r.ErrMessage)
			}
			return r.Err
		}
	}
	return nil
}

func kafkaStatusOf(err error) int {
	if ke, ok := err.(*kerr.Error); ok {
		return kafkaStatus(ke)
	}
	return http.StatusInternalServerError
}

func (s *Server) handleListTopics(ctx context.Context, r *http.Request) (any, error) {
	ts, err := s.Topics(ctx, r.URL.Query().Get("internal") == "true")
	return map[string]any{"topics": ts}, err
}

func (s *Server) handleCreateTopic(w http.ResponseWriter, r *http.Request) error {
	var req CreateTopicRequest
	if err := decodeBody(w, r, s.cfg.maxBody, &req); err != nil {
		return err
	}
	ctx, cancel := s.adminCtx(r)
	defer cancel()
	if err := s.CreateTopic(ctx, req); err != nil {
		return err
	}
	d, err := s.DescribeTopic(ctx, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) handleDescribeTopic(ctx context.Context, r *http.Request) (any, error) {
	return s.DescribeTopic(ctx, r.PathValue("topic"))
}

func (s *Server) handleDeleteTopic(ctx context.Context, r *http.Request) (any, error) {
	return map[string]string{"deleted": r.PathValue("topic")}, s.DeleteTopic(ctx, r.PathValue("topic"))
}

func (s *Server) handleTopicConfigs(ctx context.Context, r *http.Request) (any, error) {
	cs, err := s.TopicConfigs(ctx, r.PathValue("topic"))
	return map[string]any{"configs": cs}, err
}

func (s *Server) handleAlterTopicConfigs(w http.ResponseWriter, r *http.Request) error {
	var req AlterConfigsRequest
	if err := decodeBody(w, r, s.cfg.maxBody, &req); err != nil {
		return err
	}
	ctx, cancel := s.adminCtx(r)
	defer cancel()
	topic := r.PathValue("topic")
	if _, err := s.partitions(ctx, topic); err != nil {
		return err
	}
	if err := s.AlterTopicConfigs(ctx, topic, req); err != nil {
		return err
	}
	cs, err := s.TopicConfigs(ctx, topic)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"configs": cs})
	return nil
}
