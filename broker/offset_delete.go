package broker

// OffsetDelete (key 47), v0: deletes a group's offsets for partitions it no longer subscribes to.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetDelete.Int16(), 0, 0, groupHandler) }
