package txn

// EndTxn (key 26), v0-v5.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn serves EndTxn v0-v5. An Ongoing transaction moves to
// PrepareCommit or PrepareAbort; the answer (success) is meant to be sent
// once that record is durable, and the same Output asks for the markers.
// When they are written (MarkersWritten) the transaction becomes
// CompleteCommit or CompleteAbort. Once PrepareCommit is durable the
// commit is decided: it completes even across a crash (Recover asks for
// the markers again) and no timeout can abort it.
//
// A retry is answered by the state: the same outcome while it is being
// completed is CONCURRENT_TRANSACTIONS, and once complete is a success;
// the other outcome, or ending a transaction that never began (Empty, for
// example with no partition added: clients do not send EndTxn then), is
// INVALID_TXN_STATE.
//
// Errors: INVALID_REQUEST (empty transactional id),
// INVALID_PRODUCER_ID_MAPPING (unknown id, or not its producer id),
// PRODUCER_FENCED (not its current epoch, for example after a timeout
// aborted the transaction; v0-v1 receive INVALID_PRODUCER_EPOCH),
// CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE.
//
// v5 is answered with the producer id and epoch (-1 on error) but without
// KIP-890 part 2's epoch bump: clients only send v5 to brokers that
// advertise transaction.version 2, which the broker must not do.
func (c *Coordinator) EndTxn(now time.Time, req *kmsg.EndTxnRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	t, code := c.checkProducer(req.TransactionalID, req.ProducerID, req.ProducerEpoch)
	if code == 0 {
		code = c.endTxn(t, req.Commit)
	}
	if code == 0 {
		resp.ProducerID, resp.ProducerEpoch = t.pid, t.epoch
	}
	resp.ErrorCode = fencedCode(code, req.Version < 2)
	c.reply(to, resp)
	return c.flush()
}

func (c *Coordinator) endTxn(t *transaction, commit bool) int16 {
	switch t.state {
	case Ongoing:
		c.prepareEnd(t, commit)
		return 0
	case PrepareCommit, PrepareAbort:
		if commit == (t.state == PrepareCommit) {
			return kerr.ConcurrentTransactions.Code
		}
	case CompleteCommit, CompleteAbort:
		if commit == (t.state == CompleteCommit) {
			return 0
		}
	}
	return kerr.InvalidTxnState.Code
}
