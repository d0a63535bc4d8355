package broker

// ListTransactions (key 66), v0-v1: transactional ids, filtered by state, producer id and (v1) duration.
//
// The transaction coordinator (coord/txn, wired in transactions.go)
// decides the answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.ListTransactions.Int16(), 0, 1, txnHandler) }
