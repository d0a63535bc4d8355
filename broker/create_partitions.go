package broker

// CreatePartitions (key 37), v0-v3.
//
// Grows topics to a new partition count, which must be larger than the
// current one (INVALID_PARTITIONS otherwise, as in Kafka, even when equal).
// An explicit assignment, if given, must list one entry per new partition,
// each naming only this node (INVALID_REPLICA_ASSIGNMENT otherwise). A
// topic named more than once in a request is INVALID_REQUEST, answered once;
// the others are still processed. ValidateOnly checks everything and
// changes nothing. New partitions are empty and can be produced to at once.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreatePartitions.Int16(), 0, 3, handleCreatePartitions) }

func handleCreatePartitions(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	answered := map[string]bool{}
	for _, rt := range r.Topics {
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var terr *topicError
		if seen[rt.Topic] > 1 {
			terr = errCode(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic)
		} else if t := b.topic(rt.Topic); t == nil {
			terr = errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
		} else {
			if cur := int32(b.numPartitions(t)); rt.Assignment != nil && rt.Count > cur {
				terr = b.checkNewAssignment(rt.Assignment, rt.Count-cur)
			}
			if terr == nil {
				terr = b.addPartitions(t, rt.Count, r.ValidateOnly)
			}
		}
		if terr != nil {
			st.ErrorCode = terr.code.Code
			msg := terr.msg
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// checkNewAssignment validates the replica assignment of added partitions:
// one per new partition, each replicated on this node alone.
func (b *Broker) checkNewAssignment(as []kmsg.CreatePartitionsRequestTopicAssignment, added int32) *topicError {
	if int32(len(as)) != added {
		return errCode(kerr.InvalidReplicaAssignment, "attempted to add %d partition(s), but %d assignment(s) were specified", added, len(as))
	}
	for i, a := range as {
		if len(a.Replicas) == 0 {
			return errCode(kerr.InvalidReplicaAssignment, "assignment %d has an empty replica list", i)
		}
		for _, id := range a.Replicas {
			if id != b.cfg.nodeID {
				return errCode(kerr.InvalidReplicaAssignment, "assignment %d names broker %d, but the only broker is %d", i, id, b.cfg.nodeID)
			}
		}
		if len(a.Replicas) > 1 {
			return errCode(kerr.InvalidReplicaAssignment, "assignment %d names broker %d more than once", i, b.cfg.nodeID)
		}
	}
	return nil
}
