package broker

// DescribeTransactions (key 65), v0: state, producer, timeout and partitions of transactional ids (KIP-664).
//
// The transaction coordinator (coord/txn, wired in transactions.go)
// decides the answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DescribeTransactions.Int16(), 0, 0, txnHandler) }
