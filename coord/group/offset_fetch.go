package group

// OffsetFetch (key 9), v0-v9.

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch serves OffsetFetch v0-v9: v0-v7 for one group, v8+ for
// several. Null topics (v2+) asks for every committed offset of the group.
// As in Kafka, an unknown group is not an error: its partitions answer
// offset -1 (and no topics for "all"). A partition without a committed
// offset answers offset -1, leader epoch -1 and metadata "". Offsets
// pending in open transactions (TxnOffsetCommit) are not seen: a
// partition answers its committed offset until the transaction commits.
// With RequireStable (v7+, KIP-447), a partition with an offset pending in
// an open transaction instead answers UNSTABLE_OFFSET_COMMIT with offset
// -1, as Kafka does, so that a consumer of a transactional pipeline waits
// for the transaction to end rather than start from an offset about to
// change; asking for all topics lists only partitions with a committed
// offset. The member id and epoch of v9 concern KIP-848 groups and are
// ignored.
func (c *Coordinator) OffsetFetch(now time.Time, req *kmsg.OffsetFetchRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			var requested []kmsg.OffsetFetchRequestTopic
			if rg.Topics != nil {
				requested = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					requested = append(requested, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			for _, t := range c.fetchOffsets(rg.Group, requested, req.RequireStable) {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition = p.Partition
					sp.Offset = p.Offset
					sp.LeaderEpoch = p.LeaderEpoch
					sp.Metadata = p.Metadata
					sp.ErrorCode = p.ErrorCode
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
	} else {
		resp.Topics = c.fetchOffsets(req.Group, req.Topics, req.Version >= 7 && req.RequireStable)
	}
	c.reply(to, resp)
	return c.flush()
}

// fetchOffsets answers one group: the requested partitions, or every
// committed offset (sorted) if requested is nil.
func (c *Coordinator) fetchOffsets(name string, requested []kmsg.OffsetFetchRequestTopic, requireStable bool) []kmsg.OffsetFetchResponseTopic {
	g := c.groups[name]
	fetched := func(topic string, p int32, o *offset) kmsg.OffsetFetchResponseTopicPartition {
		if requireStable && c.hasTxnOffset(name, topic, p) {
			sp := fetchedPartition(p, nil)
			sp.ErrorCode = kerr.UnstableOffsetCommit.Code
			return sp
		}
		return fetchedPartition(p, o)
	}
	var out []kmsg.OffsetFetchResponseTopic
	if requested == nil {
		if g == nil {
			return nil
		}
		for _, topic := range sortedKeys(g.offsets) {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = topic
			for _, p := range sortedKeys(g.offsets[topic]) {
				st.Partitions = append(st.Partitions, fetched(topic, p, g.offsets[topic][p]))
			}
			out = append(out, st)
		}
		return out
	}
	for _, rt := range requested {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			var o *offset
			if g != nil {
				o = g.offsets[rt.Topic][p]
			}
			st.Partitions = append(st.Partitions, fetched(rt.Topic, p, o))
		}
		out = append(out, st)
	}
	return out
}

func fetchedPartition(p int32, o *offset) kmsg.OffsetFetchResponseTopicPartition {
	sp := kmsg.NewOffsetFetchResponseTopicPartition()
	sp.Partition = p
	if o == nil {
		sp.Offset = -1
		sp.LeaderEpoch = -1
		sp.Metadata = kmsg.StringPtr("")
		return sp
	}
	sp.Offset = o.offset
	sp.LeaderEpoch = o.leaderEpoch
	sp.Metadata = kmsg.StringPtr(o.metadata)
	return sp
}

func sortedKeys[K string | int32, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
