package broker

// TxnOffsetCommit (key 28), v0-v4: offsets committed inside a producer's
// transaction (KIP-98, KIP-447), durable in __consumer_offsets in a
// transactional batch of the producer, visible to OffsetFetch once the
// transaction commits.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer. Before it, the transaction coordinator is asked, through the
// hook the transaction wiring installs with groups.setTxnOffsetsAllowed,
// whether the producer id and epoch are current and AddOffsetsToTxn added
// the group to its open transaction. The records are appended with the
// producer's id and epoch and no sequence, so the log itself refuses a
// producer fenced meanwhile: the request then answers
// INVALID_PRODUCER_EPOCH. The producer's commit or abort marker on
// __consumer_offsets-0 settles the offsets (groups.completeTransaction).

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage"
)

func init() { register(kmsg.TxnOffsetCommit.Int16(), 0, 4, txnOffsetCommitHandler) }

func txnOffsetCommitHandler(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	r, ok := req.(*kmsg.TxnOffsetCommitRequest)
	if !ok {
		return nil, fmt.Errorf("TxnOffsetCommit handler got %T", req)
	}
	return c.b.groups.txnOffsetCommit(r, p)
}

// txnOffsetCommit serves one TxnOffsetCommit. The timers that are due run
// first, with their records appended on their own, so that the request's
// records are the only ones of its output: if the log refuses their batch
// (a fenced producer), only this request is answered with the error.
func (g *groups) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, p *pending) (kmsg.Response, error) {
	g.mu.Lock()
	allowed := g.mu.txnOffsetsAllowed
	g.mu.Unlock()
	if allowed != nil && req.ProducerID >= 0 {
		if err := allowed(req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
			code := kerr.UnknownServerError.Code
			var ke *kerr.Error
			if errors.As(err, &ke) {
				code = ke.Code
			}
			return txnOffsetCommitError(req, code), nil
		}
	}
	g.mu.Lock()
	now := g.b.cfg.now()
	due := g.mu.c.Tick(now)
	dueEnd, dueErr := g.appendLocked(due)
	out := g.mu.c.TxnOffsetCommit(now, req, p)
	end, err := g.appendLocked(out)
	g.mu.Unlock()
	g.poke()
	g.deliver(due, dueEnd, dueErr)
	if errors.Is(err, storage.ErrInvalidProducerEpoch) {
		// The coordinator was rebuilt from the log, without these
		// offsets. The request is answered; anything else the output
		// answered (nothing, unless a timer was due at this very
		// instant) fails as any unpersisted reply does.
		for _, r := range out.Replies {
			rp := r.To.(*pending)
			if rp == p {
				rp.finish(txnOffsetCommitError(req, kerr.InvalidProducerEpoch.Code), nil)
				continue
			}
			rp.finish(nil, fmt.Errorf("persisting group state: %w", err))
		}
		return nil, nil
	}
	g.deliver(out, end, err)
	return nil, nil // the reply goes through deliver
}

// txnOffsetCommitError answers every partition of req with code.
func txnOffsetCommitError(req *kmsg.TxnOffsetCommitRequest, code int16) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
