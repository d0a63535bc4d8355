package broker

// OffsetForLeaderEpoch (key 23), v0-v4.
//
// Every partition has had one leader, this node, in leader epoch 0, which
// began at the log start offset. The answers are those of Kafka's leader
// epoch cache with that single entry:
//
//   - epoch 0 (the current one): epoch 0 and the end of the log as clients
//     see it, the high watermark, so a consumer's truncation check passes
//     for any offset it has read;
//   - an epoch larger than the current one: no error, epoch -1 and offset
//     -1 (UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET), as Kafka answers;
//   - -1: likewise -1 and -1;
//   - another negative epoch (older than any known): that epoch and the log
//     start offset.
//
// CurrentLeaderEpoch (v2+) is checked like Fetch and ListOffsets do: -1
// skips the check, an epoch newer than 0 is UNKNOWN_LEADER_EPOCH, and, as
// in Kafka, an older one FENCED_LEADER_EPOCH. Unknown topics and
// partitions are UNKNOWN_TOPIC_OR_PARTITION. Followers' requests (ReplicaID
// >= 0, v3+) are answered the same way.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetForLeaderEpoch.Int16(), 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			var part *partition
			if t != nil {
				part = b.partition(t, rp.Partition)
			}
			switch {
			case part == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			case rp.CurrentLeaderEpoch < -1:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.LeaderEpoch == 0:
				sp.LeaderEpoch, sp.EndOffset = 0, part.log.HighWatermark()
			case rp.LeaderEpoch < -1:
				sp.LeaderEpoch, sp.EndOffset = rp.LeaderEpoch, part.log.Offsets().LogStart
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
