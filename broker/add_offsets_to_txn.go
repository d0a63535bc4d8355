package broker

// AddOffsetsToTxn (key 25), v0-v4: adds a group's __consumer_offsets partition to a transaction.
//
// The transaction coordinator (coord/txn, wired in transactions.go)
// decides the answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.AddOffsetsToTxn.Int16(), 0, 4, txnHandler) }
