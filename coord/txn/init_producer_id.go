package txn

// InitProducerId (key 22), v0-v5.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerID serves InitProducerId v0-v5.
//
// Without a transactional id it hands out a new producer id at epoch 0
// (an idempotent producer; nothing is recorded).
//
// A new transactional id gets a new producer id at epoch 0. An existing
// one, Empty or Complete*, gets its epoch bumped, which fences any older
// instance of the producer; once its epoch is exhausted (32766: 32767 is
// never handed out, so that the coordinator can always fence) it gets a
// new producer id at epoch 0 instead. The transaction timeout is set each
// time. The answer is meant to be sent once the record is durable.
//
// If the id has an Ongoing transaction, the coordinator fences it: the
// epoch is bumped and the transaction aborted (PrepareAbort, markers,
// CompleteAbort), and the client is told CONCURRENT_TRANSACTIONS, to retry;
// it keeps getting that while an abort or commit is being completed. The
// retry then bumps the epoch again, as in Kafka: the fencing epoch is never
// handed out.
//
// From v3 a producer may name its producer id and epoch (KIP-360) to
// continue after an error: the epoch is bumped if it is the current one;
// a retry of that same call (naming the epoch it bumped from) gets the
// same answer again, without another bump; any other epoch, or a producer
// id that is neither the current one nor (after a rotation, with an
// exhausted epoch) the previous one, is PRODUCER_FENCED, which v3 receives
// as INVALID_PRODUCER_EPOCH (KIP-588). A producer id and epoch where only
// one is -1 is INVALID_REQUEST.
//
// Errors: INVALID_REQUEST (empty transactional id), INVALID_TRANSACTION_TIMEOUT
// (not in 1ms..TransactionMaxTimeout), CONCURRENT_TRANSACTIONS,
// PRODUCER_FENCED / INVALID_PRODUCER_EPOCH, COORDINATOR_NOT_AVAILABLE (the
// producer id allocator failed). On error the producer id and epoch are -1.
func (c *Coordinator) InitProducerID(now time.Time, req *kmsg.InitProducerIDRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	code, pid, epoch := c.initProducerID(req)
	if code != 0 {
		pid, epoch = -1, -1
		code = fencedCode(code, req.Version < 4)
	}
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, pid, epoch
	c.reply(to, resp)
	return c.flush()
}

func (c *Coordinator) initProducerID(req *kmsg.InitProducerIDRequest) (code int16, pid int64, epoch int16) {
	type pidEpoch struct {
		pid   int64
		epoch int16
	}
	var expected *pidEpoch
	if req.Version >= 3 {
		switch {
		case req.ProducerID == -1 && req.ProducerEpoch == -1:
		case req.ProducerID == -1 || req.ProducerEpoch == -1:
			return kerr.InvalidRequest.Code, 0, 0
		default:
			expected = &pidEpoch{req.ProducerID, req.ProducerEpoch}
		}
	}
	if req.TransactionalID == nil {
		pid, err := c.cfg.AllocateProducerID()
		if err != nil {
			return kerr.CoordinatorNotAvailable.Code, 0, 0
		}
		return 0, pid, 0
	}
	id := *req.TransactionalID
	switch {
	case id == "":
		return kerr.InvalidRequest.Code, 0, 0
	case req.TransactionTimeoutMillis <= 0 || int64(req.TransactionTimeoutMillis) > c.cfg.TransactionMaxTimeout.Milliseconds():
		return kerr.InvalidTransactionTimeout.Code, 0, 0
	}

	t := c.txns[id]
	if t == nil {
		pid, err := c.cfg.AllocateProducerID()
		if err != nil {
			return kerr.CoordinatorNotAvailable.Code, 0, 0
		}
		t = &transaction{id: id, pid: pid, prevPID: -1, epoch: -1, lastEpoch: -1, state: Empty, timeoutMs: req.TransactionTimeoutMillis, updated: c.now}
		c.add(t)
	}

	// Kafka's isValidProducerId: a just-created id (epoch -1) takes any
	// producer (one moving from idempotent to transactional); otherwise the
	// producer id must be the current one, or the previous one with an
	// exhausted epoch (a retry of the call that rotated it).
	if expected != nil && t.epoch != -1 && expected.pid != t.pid &&
		!(expected.pid == t.prevPID && epochExhausted(expected.epoch)) {
		return kerr.ProducerFenced.Code, 0, 0
	}

	switch t.state {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions.Code, 0, 0
	case Ongoing:
		c.fence(t)
		return kerr.ConcurrentTransactions.Code, 0, 0
	}

	newPID, newEpoch, lastEpoch := t.pid, t.epoch, int16(-1)
	switch {
	case epochExhausted(t.epoch) && (expected == nil || expected.epoch == t.epoch):
		p, err := c.cfg.AllocateProducerID()
		if err != nil {
			return kerr.CoordinatorNotAvailable.Code, 0, 0
		}
		newPID, newEpoch = p, 0
		if expected != nil {
			lastEpoch = t.epoch
		}
	case expected == nil:
		newEpoch = t.epoch + 1
	case t.epoch == -1 || expected.epoch == t.epoch:
		newEpoch, lastEpoch = t.epoch+1, t.epoch
	case expected.epoch == t.lastEpoch:
		// A retry of the call that bumped from lastEpoch: the same answer.
		lastEpoch = t.lastEpoch
	default:
		return kerr.ProducerFenced.Code, 0, 0
	}
	t.prevPID = t.pid
	if newPID != t.pid {
		c.setPID(t, newPID)
	}
	t.epoch, t.lastEpoch = newEpoch, lastEpoch
	t.timeoutMs = req.TransactionTimeoutMillis
	t.state = Empty
	t.parts, t.groups = nil, nil
	t.start = time.Time{}
	t.updated = c.now
	c.record(t)
	c.arm(t, t.updated.Add(c.cfg.TransactionalIDExpiration))
	return 0, t.pid, t.epoch
}

// fencedCode is what a request version understands of PRODUCER_FENCED:
// versions before KIP-588 get INVALID_PRODUCER_EPOCH, as from Kafka.
func fencedCode(code int16, old bool) int16 {
	if old && code == kerr.ProducerFenced.Code {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
