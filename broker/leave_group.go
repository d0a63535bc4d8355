package broker

// LeaveGroup (key 13), v0-v5: removes members (batched by member or instance id from v3).
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.LeaveGroup.Int16(), 0, 5, groupHandler) }
