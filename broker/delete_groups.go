package broker

// DeleteGroups (key 42), v0-v2: deletes empty groups and their offsets (NON_EMPTY_GROUP otherwise).
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DeleteGroups.Int16(), 0, 2, groupHandler) }
