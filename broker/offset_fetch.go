package broker

// OffsetFetch (key 9), v1-v9: committed offsets (several groups at once from v8).
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetFetch.Int16(), 1, 9, groupHandler) }
