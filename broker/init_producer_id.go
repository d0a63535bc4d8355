package broker

// InitProducerId (key 22), v0-v5.
//
// An idempotent producer (no transactional id) gets a new producer id at
// epoch 0 each time it asks, including when it names its previous id and
// epoch (KIP-360): the partitions keep its sequence state, so a fresh id
// is always safe. A transactional id needs the transaction coordinator,
// which answers through transactions.go when it runs; without it the
// answer is COORDINATOR_NOT_AVAILABLE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID.Int16(), 0, 5, handleInitProducerID) }

func handleInitProducerID(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		if !b.transactionsEnabled() {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp, nil
		}
	}
	id, err := b.pids.allocate()
	if err != nil {
		b.logger.Error("allocating a producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
