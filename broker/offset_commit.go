package broker

// OffsetCommit (key 8), v2-v9: commits offsets, acknowledged once durable in __consumer_offsets.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetCommit.Int16(), 2, 9, groupHandler) }
