package broker

// EndTxn (key 26), v0-v4: commits or aborts; answered once the decision is durable, markers follow. v5 (transaction version 2) is not advertised.
//
// The transaction coordinator (coord/txn, wired in transactions.go)
// decides the answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.EndTxn.Int16(), 0, 4, txnHandler) }
