package broker

// ListGroups (key 16), v0-v5: groups with their state (filter v4+) and type (v5).
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.ListGroups.Int16(), 0, 5, groupHandler) }
