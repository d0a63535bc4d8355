package txn

// DescribeTransactions (key 65), v0.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions serves DescribeTransactions v0 (KIP-664): for each
// transactional id, its state, producer id and epoch, timeout, the start
// of its transaction (-1 if none) and the partitions of the open or ending
// transaction, sorted. Errors, per id: INVALID_REQUEST (empty id),
// TRANSACTIONAL_ID_NOT_FOUND. The broker answers
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED itself and leaves out topics the
// client may not describe.
func (c *Coordinator) DescribeTransactions(now time.Time, req *kmsg.DescribeTransactionsRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		t := c.txns[id]
		switch {
		case id == "":
			st.ErrorCode = kerr.InvalidRequest.Code
		case t == nil:
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			st.State = t.state.String()
			st.TimeoutMillis = t.timeoutMs
			st.StartTimestamp = toMillis(t.start)
			st.ProducerID = t.pid
			st.ProducerEpoch = t.epoch
			var topic *kmsg.DescribeTransactionsResponseTransactionStateTopic
			for _, tp := range t.sortedParts() {
				if topic == nil || topic.Topic != tp.Topic {
					st.Topics = append(st.Topics, kmsg.NewDescribeTransactionsResponseTransactionStateTopic())
					topic = &st.Topics[len(st.Topics)-1]
					topic.Topic = tp.Topic
				}
				topic.Partitions = append(topic.Partitions, tp.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	c.reply(to, resp)
	return c.flush()
}
