package broker

// ListOffsets (key 2), v1-v8.
//
// Timestamps: -2 earliest (log start), -1 latest (high watermark, or last
// stable offset for read_committed), -3 the record with the largest
// timestamp (v7+, KIP-734), -4 earliest local (v8+, the log start here: all
// data is local), and otherwise the first offset whose record timestamp is
// >= the given one, found through the time index. When no record is that
// new, the answer is offset -1 and timestamp -1, as Kafka gives.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListOffsets.Int16(), 1, 8, handleListOffsets) }

func handleListOffsets(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp = -1, -1
			var part *partition
			if t != nil {
				part = b.partition(t, rp.Partition)
			}
			switch {
			case part == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				sp.LeaderEpoch = 0
				offs := part.log.Offsets()
				switch ts := rp.Timestamp; {
				case ts == -2 || ts == -4:
					sp.Offset = offs.LogStart
				case ts == -1 && r.IsolationLevel == 1: // read_committed
					sp.Offset = offs.LastStable
				case ts == -1:
					sp.Offset = offs.HighWatermark
				case ts == -3:
					if off, mts, ok := part.log.MaxTimestamp(); ok {
						sp.Offset, sp.Timestamp = off, mts
					}
				case ts < 0:
					sp.ErrorCode = kerr.InvalidRequest.Code
				default:
					off, rts, ok, err := part.log.OffsetForTimestamp(ts)
					switch {
					case err != nil:
						sp.ErrorCode = kerr.KafkaStorageError.Code
					case ok:
						sp.Offset, sp.Timestamp = off, rts
					}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
