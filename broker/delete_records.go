package broker

// DeleteRecords (key 21), v0-v2.
//
// Moves each partition's log start offset forward to the requested offset
// (-1: the high watermark), making earlier records unreadable at once and
// deleting the segments wholly below it; the new start survives restarts.
// An offset above the high watermark (or below -1) is OFFSET_OUT_OF_RANGE,
// and one at or below the current log start changes nothing. The answer
// carries the partition's log start offset afterwards (its low watermark),
// or -1 with an error. As in Kafka, topics whose cleanup.policy lacks
// "delete" refuse with POLICY_VIOLATION.

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage"
)

func init() { register(kmsg.DeleteRecords.Int16(), 0, 2, handleDeleteRecords) }

func handleDeleteRecords(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		deletable := t != nil && b.deletePolicy(t)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			var part *partition
			if t != nil {
				part = b.partition(t, rp.Partition)
			}
			switch {
			case part == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !deletable:
				sp.ErrorCode = kerr.PolicyViolation.Code
			case rp.Offset < -1:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			default:
				_, err := part.log.DeleteRecords(rp.Offset)
				switch {
				case err == nil:
					sp.LowWatermark = part.log.Offsets().LogStart
				case errors.Is(err, storage.ErrOffsetOutOfRange):
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				case errors.Is(err, storage.ErrClosed):
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				default:
					b.logger.Warn("delete records", "topic", t.name, "partition", rp.Partition, "err", err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// deletePolicy reports whether a topic's cleanup.policy includes delete,
// which DeleteRecords requires.
func (b *Broker) deletePolicy(t *topic) bool {
	v, _ := b.settings.topicValue(b.topicConfigs(t), "cleanup.policy")
	return slices.Contains(listParts(v), "delete")
}
