package broker

// Heartbeat (key 12), v0-v4: keeps a member's session; REBALANCE_IN_PROGRESS during rebalances.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.Heartbeat.Int16(), 0, 4, groupHandler) }
