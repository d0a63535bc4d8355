package gateway

import (
	"context"
	"net/http"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupSummary is one group in the group list.
type GroupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
	// Lag is the group's total lag over the partitions it has committed
	// offsets for or is assigned (-1 if it could not be computed).
	Lag int64 `json:"lag"`
}

// GroupMember is one member of a group with its assignment.
type GroupMember struct {
	MemberID   string             `json:"member_id"`
	InstanceID string             `json:"instance_id,omitempty"`
	ClientID   string             `json:"client_id"`
	ClientHost string             `json:"client_host"`
	Assigned   map[string][]int32 `json:"assigned"`
}

// GroupPartitionLag is a group's position on one partition.
type GroupPartitionLag struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Committed     int64  `json:"committed"` // -1: no commit
	HighWatermark int64  `json:"high_watermark"`
	Lag           int64  `json:"lag"` // -1: unknown
	MemberID      string `json:"member_id,omitempty"`
	Error         string `json:"error,omitempty"`
}

// GroupDescription describes a group: members, assignments, lag.
type GroupDescription struct {
	GroupSummary
	Protocol string              `json:"protocol"`
	Members  []GroupMember       `json:"members"`
	Offsets  []GroupPartitionLag `json:"offsets"`
}

// Groups lists the consumer groups with their total lag.
func (s *Server) Groups(ctx context.Context) ([]GroupSummary, error) {
	listed, err := s.admin.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := []GroupSummary{}
	if len(listed) == 0 {
		return out, nil
	}
	lags, err := s.admin.Lag(ctx, listed.Groups()...)
	if err != nil {
		return nil, err
	}
	for _, name := range listed.Groups() {
		gs := GroupSummary{Group: name, State: listed[name].State, ProtocolType: listed[name].ProtocolType, Lag: -1}
		if l, ok := lags[name]; ok {
			gs.Members = len(l.Members)
			if l.Error() == nil {
				gs.Lag = l.Lag.Total()
			}
			if l.State != "" {
				gs.State = l.State
			}
		}
		out = append(out, gs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

// DescribeGroup describes one group.
func (s *Server) DescribeGroup(ctx context.Context, group string) (GroupDescription, error) {
	lags, err := s.admin.Lag(ctx, group)
	if err != nil {
		return GroupDescription{}, err
	}
	l, ok := lags[group]
	if !ok {
		return GroupDescription{}, errorf(http.StatusNotFound, "group %q does not exist", group)
	}
	if l.DescribeErr != nil {
		return GroupDescription{}, l.DescribeErr
	}
	if l.State == "Dead" {
		return GroupDescription{}, errorf(http.StatusNotFound, "group %q does not exist", group)
	}
	d := GroupDescription{
		GroupSummary: GroupSummary{Group: group, State: l.State, ProtocolType: l.ProtocolType, Members: len(l.Members), Lag: -1},
		Protocol:     l.Protocol,
		Members:      []GroupMember{},
		Offsets:      []GroupPartitionLag{},
	}
	if l.FetchErr == nil {
		d.Lag = l.Lag.Total()
	}
	for _, m := range l.Members {
		gm := GroupMember{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range ca.Topics {
				gm.Assigned[t.Topic] = append(gm.Assigned[t.Topic], t.Partitions...)
			}
		}
		d.Members = append(d.Members, gm)
	}
	for _, pl := range l.Lag.Sorted() {
		gl := lagOf(pl)
		d.Offsets = append(d.Offsets, gl)
	}
	return d, nil
}

func lagOf(pl kadm.GroupMemberLag) GroupPartitionLag {
	gl := GroupPartitionLag{Topic: pl.Topic, Partition: pl.Partition, Committed: pl.Commit.At, HighWatermark: pl.End.Offset, Lag: pl.Lag}
	if pl.Member != nil {
		gl.MemberID = pl.Member.MemberID
	}
	if pl.Err != nil {
		gl.Error = pl.Err.Error()
	}
	return gl
}

func (s *Server) handleListGroups(ctx context.Context, _ *http.Request) (any, error) {
	gs, err := s.Groups(ctx)
	return map[string]any{"groups": gs}, err
}

func (s *Server) handleDescribeGroup(ctx context.Context, r *http.Request) (any, error) {
	return s.DescribeGroup(ctx, r.PathValue("group"))
}

func (s *Server) handleDeleteGroup(ctx context.Context, r *http.Request) (any, error) {
	resp, err := s.admin.DeleteGroup(ctx, r.PathValue("group"))
	if err == nil {
		err = resp.Err
	}
	return map[string]string{"deleted": r.PathValue("group")}, err
}

// ClusterInfo is what GET /api/v1/cluster answers.
type ClusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Brokers    []BrokerInfo `json:"brokers"`
}

// BrokerInfo is one broker of the cluster.
type BrokerInfo struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

func (s *Server) handleCluster(ctx context.Context, _ *http.Request) (any, error) {
	md, err := s.admin.BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	ci := ClusterInfo{ClusterID: md.Cluster, Controller: md.Controller, Brokers: []BrokerInfo{}}
	for _, b := range md.Brokers {
		ci.Brokers = append(ci.Brokers, BrokerInfo{NodeID: b.NodeID, Host: b.Host, Port: b.Port})
	}
	return ci, nil
}

// handleHealth answers while the gateway process serves: liveness.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReady answers 200 when the broker answers metadata within 2 s,
// 503 otherwise: readiness.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2e9)
	defer cancel()
	// ApiVersions, which kgo never answers from a cache, unlike metadata.
	if _, err := s.producers[0].Request(ctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		return errorf(http.StatusServiceUnavailable, "broker not ready: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
