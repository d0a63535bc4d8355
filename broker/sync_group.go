package broker

// SyncGroup (key 14), v0-v5: the leader's assignments, parked for followers until the leader syncs.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.SyncGroup.Int16(), 0, 5, groupHandler) }
