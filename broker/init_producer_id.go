package broker

// InitProducerId (key 22), v0-v5.
//
// Producer ids come from the transaction coordinator (coord/txn, wired in
// transactions.go): an idempotent producer (no transactional id) gets a
// new producer id at epoch 0 each time it asks, including when it names
// its previous id and epoch (KIP-360) — the partitions keep its sequence
// state, so a fresh id is always safe; a transactional id is bound to its
// producer id, and each InitProducerId bumps the epoch, fencing older
// instances (and aborting a transaction they left open). Ids are
// allocated in durable blocks (producer_ids.go), so none is ever reused.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.InitProducerID.Int16(), 0, 5, txnHandler) }
