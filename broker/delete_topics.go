package broker

// DeleteTopics (key 20), v1-v6.
//
// Topics are named by name (TopicNames before v6) or, from v6, each entry
// by name or by topic id; an unknown name is UNKNOWN_TOPIC_OR_PARTITION and
// an unknown id UNKNOWN_TOPIC_ID. As in Kafka, an entry naming both or
// neither, a name or id given twice, and a name and an id of the same topic
// are INVALID_REQUEST, answered once. With the broker config
// delete.topic.enable off every topic gets TOPIC_DELETION_DISABLED
// (INVALID_REQUEST before v3, which lacks that code). A deleted topic's
// data is gone at once; the name can be reused right away, with a new id.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteTopics.Int16(), 1, 6, handleDeleteTopics) }

func handleDeleteTopics(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)

	entries := r.Topics
	if r.Version < 6 {
		entries = make([]kmsg.DeleteTopicsRequestTopic, 0, len(r.TopicNames))
		for _, name := range r.TopicNames {
			e := kmsg.NewDeleteTopicsRequestTopic()
			e.Topic = kmsg.StringPtr(name)
			entries = append(entries, e)
		}
	}
	answer := func(name *string, id [16]byte, e *topicError) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = name, id
		if e != nil {
			st.ErrorCode = e.code.Code
			msg := e.msg
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}

	if !b.settings.bool("delete.topic.enable") {
		code := kerr.TopicDeletionDisabled
		if r.Version < 3 {
			code = kerr.InvalidRequest
		}
		for _, e := range entries {
			answer(e.Topic, e.TopicID, errCode(code, "topic deletion is disabled (delete.topic.enable=false)"))
		}
		return resp, nil
	}

	names := map[string]int{}
	ids := map[[16]byte]int{}
	for _, e := range entries {
		switch {
		case e.Topic != nil && e.TopicID == [16]byte{}:
			names[*e.Topic]++
		case e.Topic == nil && e.TopicID != [16]byte{}:
			ids[e.TopicID]++
		}
	}

	// Resolve every entry first, so that a name and an id of the same topic
	// are caught whatever their order.
	type target struct {
		name *string
		id   [16]byte
		t    *topic
		err  *topicError
	}
	var targets []target
	perTopic := map[*topic]int{}
	dupAnswered := map[any]bool{}
	for _, e := range entries {
		tg := target{name: e.Topic, id: e.TopicID}
		switch {
		case e.Topic != nil && e.TopicID != [16]byte{}:
			tg.err = errCode(kerr.InvalidRequest, "you may not specify both topic name and topic id")
		case e.Topic == nil && e.TopicID == [16]byte{}:
			tg.err = errCode(kerr.InvalidRequest, "neither topic name nor topic id was specified")
		case e.Topic != nil && names[*e.Topic] > 1:
			if dupAnswered[*e.Topic] {
				continue
			}
			dupAnswered[*e.Topic] = true
			tg.err = errCode(kerr.InvalidRequest, "duplicate topic name %q", *e.Topic)
		case e.Topic == nil && ids[e.TopicID] > 1:
			if dupAnswered[e.TopicID] {
				continue
			}
			dupAnswered[e.TopicID] = true
			tg.err = errCode(kerr.InvalidRequest, "duplicate topic id %s", encodeUUID(e.TopicID))
		case e.Topic != nil:
			if tg.t = b.topic(*e.Topic); tg.t == nil {
				tg.err = errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", *e.Topic)
			}
		default:
			if tg.t = b.topicByID(e.TopicID); tg.t == nil {
				tg.err = errCode(kerr.UnknownTopicID, "no topic has id %s", encodeUUID(e.TopicID))
			}
		}
		if tg.t != nil {
			perTopic[tg.t]++
		}
		targets = append(targets, tg)
	}

	for _, tg := range targets {
		if tg.err != nil {
			answer(tg.name, tg.id, tg.err)
			continue
		}
		name := tg.t.name
		if perTopic[tg.t] > 1 {
			answer(&name, tg.id, errCode(kerr.InvalidRequest, "topic %q is named both by name and by id", name))
			continue
		}
		if terr := b.deleteTopic(tg.t); terr != nil {
			answer(&name, tg.id, terr)
			continue
		}
		answer(&name, tg.t.id, nil)
	}
	return resp, nil
}
