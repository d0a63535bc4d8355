package broker

// CreateTopics (key 19), v2-v7.
//
// Creates topics with a partition count (-1: num.partitions), replication
// factor 1 (or -1 for the default), or an explicit assignment naming this
// node only, and topic configs, which are validated. ValidateOnly checks
// everything and creates nothing. A topic named twice in one request is
// INVALID_REQUEST. From v5 the answer carries the topic's resulting configs.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreateTopics.Int16(), 2, 7, handleCreateTopics) }

func handleCreateTopics(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(e *topicError) {
			st.ErrorCode = e.code.Code
			msg := e.msg
			st.ErrorMessage = &msg
		}
		partitions := rt.NumPartitions
		switch {
		case seen[rt.Topic] > 1:
			fail(errCode(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic))
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1:
			fail(errCode(kerr.InvalidReplicationFactor, "replication factor %d: this cluster has one broker", rt.ReplicationFactor))
		case len(rt.ReplicaAssignment) > 0 && partitions != -1:
			fail(errCode(kerr.InvalidRequest, "both a partition count and a replica assignment were given"))
		}
		if st.ErrorCode == 0 && len(rt.ReplicaAssignment) > 0 {
			for i, ra := range rt.ReplicaAssignment {
				if ra.Partition != int32(i) || len(ra.Replicas) != 1 || ra.Replicas[0] != b.cfg.nodeID {
					fail(errCode(kerr.InvalidReplicaAssignment, "assignment must name partitions 0..n-1 each with replica [%d]", b.cfg.nodeID))
					break
				}
			}
			partitions = int32(len(rt.ReplicaAssignment))
		}
		configs := map[string]string{}
		for _, kv := range rt.Configs {
			if kv.Value != nil {
				configs[kv.Name] = *kv.Value
			}
		}
		if st.ErrorCode == 0 {
			t, terr := b.createTopic(rt.Topic, partitions, configs, r.ValidateOnly)
			if terr != nil {
				fail(terr)
			} else {
				st.TopicID = t.id
				st.NumPartitions = partitions
				if partitions == -1 {
					st.NumPartitions = int32(b.settings.long("num.partitions"))
				}
				st.ReplicationFactor = 1
				if r.Version >= 5 {
					for _, e := range b.describeTopicConfigs(configs, nil, false, false) {
						ce := kmsg.NewCreateTopicsResponseTopicConfig()
						ce.Name, ce.Value, ce.ReadOnly, ce.Source, ce.IsSensitive = e.Name, e.Value, e.ReadOnly, int8(e.Source), e.IsSensitive
						st.Configs = append(st.Configs, ce)
					}
				}
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
