package broker

// Metadata (key 3), v0-v12.
//
// Lists the one broker (this node, leader and sole replica of every
// partition, leader epoch 0) and the requested topics: all topics for a
// null list (or an empty list in v0), by name, or by topic id (v10+).
// Unknown topics are created when the broker's auto.create.topics.enable
// is on and the request allows it (v4+ AllowAutoTopicCreation; always
// before v4), like Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Metadata.Int16(), 0, 12, handleMetadata) }

func handleMetadata(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)

	br := kmsg.NewMetadataResponseBroker()
	br.NodeID = b.cfg.nodeID
	br.Host, br.Port = c.advertised()
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	cluster := b.cluster
	resp.ClusterID = &cluster
	resp.ControllerID = b.cfg.nodeID

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, t := range b.sortedTopics() {
			resp.Topics = append(resp.Topics, b.metadataTopic(t, r.Version))
		}
		return resp, nil
	}
	autoCreate := (r.Version < 4 || r.AllowAutoTopicCreation) && b.settings.bool("auto.create.topics.enable")
	for _, rt := range r.Topics {
		var t *topic
		switch {
		case rt.Topic != nil:
			t = b.topic(*rt.Topic)
			if t == nil && autoCreate {
				var terr *topicError
				t, terr = b.createTopic(*rt.Topic, -1, nil, false)
				if terr != nil && terr.code == kerr.TopicAlreadyExists {
					t, terr = b.topic(*rt.Topic), nil
				}
				if terr != nil {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
					mt.ErrorCode = terr.code.Code
					resp.Topics = append(resp.Topics, mt)
					continue
				}
			}
		case rt.TopicID != [16]byte{}:
			t = b.topicByID(rt.TopicID)
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(t, r.Version))
	}
	return resp, nil
}

func (b *Broker) metadataTopic(t *topic, version int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	mt.IsInternal = t.internal
	n := b.numPartitions(t)
	for i := 0; i < n; i++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = b.cfg.nodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{b.cfg.nodeID}
		mp.ISR = []int32{b.cfg.nodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
