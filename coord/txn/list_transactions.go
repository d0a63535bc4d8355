package txn

// ListTransactions (key 66), v0-v1.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions serves ListTransactions v0-v1 (KIP-664, KIP-994):
// every transactional id, sorted, with its producer id and state, filtered
// as Kafka filters:
//
//   - StateFilters: only ids in one of the named states; names Kafka does
//     not know are returned in UnknownStateFilters (and match nothing);
//   - ProducerIDFilters: only ids whose current producer id is listed;
//   - DurationFilterMillis (v1, when >= 0): only ids whose transaction
//     start lies more than that long ago. As in Kafka, an id with no
//     transaction start (an Empty id, start -1) always passes this filter:
//     combine it with a state filter (Ongoing) to find long transactions.
//
// v2's transactional id pattern is not served. The broker leaves out ids
// the client may not describe.
func (c *Coordinator) ListTransactions(now time.Time, req *kmsg.ListTransactionsRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	states := map[State]bool{}
	for _, name := range req.StateFilters {
		if s, ok := ParseState(name); ok {
			states[s] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	pids := map[int64]bool{}
	for _, pid := range req.ProducerIDFilters {
		pids[pid] = true
	}
	duration := int64(-1)
	if req.Version >= 1 {
		duration = req.DurationFilterMillis
	}
	nowMs := c.now.UnixMilli()
	for _, t := range c.sorted() {
		switch {
		case len(req.StateFilters) > 0 && !states[t.state]:
			continue
		case len(pids) > 0 && !pids[t.pid]:
			continue
		case duration >= 0 && nowMs-toMillis(t.start) <= duration:
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID = t.id
		ts.ProducerID = t.pid
		ts.TransactionState = t.state.String()
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	c.reply(to, resp)
	return c.flush()
}
