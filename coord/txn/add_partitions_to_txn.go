package txn

// AddPartitionsToTxn (key 24), v0-v5.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn serves AddPartitionsToTxn v0-v5. The partitions join
// the producer's transaction, which begins (Ongoing, with its timeout
// running from now) if the id was Empty or Complete*; the answer is meant
// to be sent once the record is durable. Partitions already in the Ongoing
// transaction are answered at once, with nothing written.
//
// v4+ (KIP-890 part 1, sent by brokers rather than clients) batches
// several transactional ids; one with VerifyOnly changes nothing and
// answers, per partition, whether it is in the producer's Ongoing
// transaction (INVALID_TXN_STATE if not).
//
// Errors, on every partition of a transactional id: INVALID_REQUEST
// (empty transactional id), INVALID_PRODUCER_ID_MAPPING (unknown id, or
// not its producer id), PRODUCER_FENCED (not its current epoch; v0-v1
// receive INVALID_PRODUCER_EPOCH), CONCURRENT_TRANSACTIONS (the previous
// transaction is still being committed or aborted). The broker answers
// for partitions that do not exist itself, as Kafka does, without calling
// the coordinator: UNKNOWN_TOPIC_OR_PARTITION for those and
// OPERATION_NOT_ATTEMPTED for the others.
func (c *Coordinator) AddPartitionsToTxn(now time.Time, req *kmsg.AddPartitionsToTxnRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version <= 3 {
		var parts []TopicPartition
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				parts = append(parts, TopicPartition{rt.Topic, p})
			}
		}
		code := fencedCode(c.addPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts, ""), req.Version < 2)
		for _, rt := range req.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		c.reply(to, resp)
		return c.flush()
	}
	for _, rtx := range req.Transactions {
		var parts []TopicPartition
		for _, rt := range rtx.Topics {
			for _, p := range rt.Partitions {
				parts = append(parts, TopicPartition{rt.Topic, p})
			}
		}
		var codeOf func(TopicPartition) int16
		if rtx.VerifyOnly {
			codeOf = c.verifyPartitions(rtx.TransactionalID, rtx.ProducerID, rtx.ProducerEpoch)
		} else {
			code := c.addPartitions(rtx.TransactionalID, rtx.ProducerID, rtx.ProducerEpoch, parts, "")
			codeOf = func(TopicPartition) int16 { return code }
		}
		stx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		stx.TransactionalID = rtx.TransactionalID
		for _, rt := range rtx.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				sp.Partition, sp.ErrorCode = p, codeOf(TopicPartition{rt.Topic, p})
				st.Partitions = append(st.Partitions, sp)
			}
			stx.Topics = append(stx.Topics, st)
		}
		resp.Transactions = append(resp.Transactions, stx)
	}
	c.reply(to, resp)
	return c.flush()
}

// checkProducer finds the transaction of id and checks that the producer
// is its current one.
func (c *Coordinator) checkProducer(id string, pid int64, epoch int16) (*transaction, int16) {
	if id == "" {
		return nil, kerr.InvalidRequest.Code
	}
	t := c.txns[id]
	switch {
	case t == nil || t.pid != pid:
		return nil, kerr.InvalidProducerIDMapping.Code
	case t.epoch != epoch:
		return nil, kerr.ProducerFenced.Code
	}
	return t, 0
}

// addPartitions adds parts (and group, if not "") to the producer's
// transaction, beginning one if needed.
func (c *Coordinator) addPartitions(id string, pid int64, epoch int16, parts []TopicPartition, group string) int16 {
	t, code := c.checkProducer(id, pid, epoch)
	if code != 0 {
		return code
	}
	switch t.state {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions.Code
	case Ongoing:
		news := false
		for _, tp := range parts {
			if _, ok := t.parts[tp]; !ok {
				news = true
			}
		}
		if !news { // nothing to record
			t.addGroup(group)
			return 0
		}
	default:
		if len(parts) == 0 { // an empty request: nothing to begin
			return 0
		}
		c.beginTxn(t)
	}
	for _, tp := range parts {
		t.parts[tp] = struct{}{}
	}
	t.addGroup(group)
	t.updated = c.now
	c.record(t)
	return 0
}

func (t *transaction) addGroup(group string) {
	if group == "" {
		return
	}
	if t.groups == nil {
		t.groups = make(map[string]struct{})
	}
	t.groups[group] = struct{}{}
}

// verifyPartitions answers a VerifyOnly transaction of AddPartitionsToTxn
// v4+, as Kafka's coordinator does.
func (c *Coordinator) verifyPartitions(id string, pid int64, epoch int16) func(TopicPartition) int16 {
	t, code := c.checkProducer(id, pid, epoch)
	if code == 0 && (t.state == PrepareCommit || t.state == PrepareAbort) {
		code = kerr.ConcurrentTransactions.Code
	}
	return func(tp TopicPartition) int16 {
		if code != 0 {
			return code
		}
		if _, ok := t.parts[tp]; ok && t.state == Ongoing {
			return 0
		}
		return kerr.InvalidTxnState.Code
	}
}
