package broker

// AddPartitionsToTxn (key 24), v0-v4: adds partitions to a producer's transaction (batched across transactional ids from v4). v5 (KIP-890's transaction version 2) is not advertised.
//
// The transaction coordinator (coord/txn, wired in transactions.go)
// decides the answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.AddPartitionsToTxn.Int16(), 0, 4, txnHandler) }
