package broker

// JoinGroup (key 11), v0-v9: joins a member to a group and parks it until the rebalance completes; KIP-394 member ids, KIP-345 static members.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.JoinGroup.Int16(), 0, 9, groupHandler) }
