package broker

// FindCoordinator (key 10), v0-v6.
//
// This node coordinates every group and transactional id. Keys are batched
// from v4 (KIP-699). Key type 0 is a group; key type 1 a transactional id,
// answered only when the transaction coordinator runs (else
// COORDINATOR_NOT_AVAILABLE); other types are INVALID_REQUEST. An empty key
// is INVALID_REQUEST, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.FindCoordinator.Int16(), 0, 6, handleFindCoordinator) }

func handleFindCoordinator(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key, co.NodeID, co.Host, co.Port = key, -1, "", -1
		var fail *topicError
		switch {
		case r.CoordinatorType != 0 && r.CoordinatorType != 1:
			fail = errCode(kerr.InvalidRequest, "unknown coordinator type %d", r.CoordinatorType)
		case key == "":
			fail = errCode(kerr.InvalidRequest, "empty coordinator key")
		case r.CoordinatorType == 1 && !b.transactionsEnabled():
			fail = errCode(kerr.CoordinatorNotAvailable, "this broker has no transaction coordinator")
		}
		if fail != nil {
			co.ErrorCode = fail.code.Code
			msg := fail.msg
			co.ErrorMessage = &msg
			return co
		}
		co.NodeID = b.cfg.nodeID
		co.Host, co.Port = c.advertised()
		return co
	}
	if r.Version >= 4 {
		for _, k := range r.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, answer(k))
		}
		return resp, nil
	}
	co := answer(r.CoordinatorKey)
	resp.ErrorCode, resp.ErrorMessage = co.ErrorCode, co.ErrorMessage
	resp.NodeID, resp.Host, resp.Port = co.NodeID, co.Host, co.Port
	return resp, nil
}

// transactionsEnabled reports whether this broker runs a transaction
// coordinator.
func (b *Broker) transactionsEnabled() bool { return b.txns != nil }
