package group

// OffsetDelete (key 47), v0.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete serves OffsetDelete v0: it deletes committed offsets (a
// tombstone each; deleting an offset that does not exist succeeds). A
// group with members must use the consumer protocol (NON_EMPTY_GROUP
// otherwise), and a topic one of its members subscribes to keeps its
// offsets: GROUP_SUBSCRIBED_TO_TOPIC on each of its partitions. The
// subscriptions are read from the members' consumer-protocol metadata
// (kmsg.ConsumerMemberMetadata) when a generation starts; if they cannot be
// parsed, every topic counts as subscribed.
//
// Errors: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (top-level);
// GROUP_SUBSCRIBED_TO_TOPIC (per partition).
func (c *Coordinator) OffsetDelete(now time.Time, req *kmsg.OffsetDeleteRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := c.groups[req.Group]
	switch {
	case g == nil:
		resp.ErrorCode = kerr.GroupIDNotFound.Code
	case g.state != Empty && g.protocolType != consumerProtocolType:
		resp.ErrorCode = kerr.NonEmptyGroup.Code
	default:
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetDeleteResponseTopic()
			st.Topic = rt.Topic
			subscribed := g.state != Empty && g.isSubscribed(rt.Topic)
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetDeleteResponseTopicPartition()
				sp.Partition = rp.Partition
				if subscribed {
					sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
				} else {
					c.deleteOffset(g, rt.Topic, rp.Partition)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	c.reply(to, resp)
	return c.flush()
}
