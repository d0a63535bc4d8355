package broker

// DescribeGroups (key 15), v0-v5: state, protocol, members, client ids, hosts and assignments.
//
// The group coordinator (coord/group, wired in groups.go) decides the
// answer; this file only registers the API and its versions.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DescribeGroups.Int16(), 0, 5, groupHandler) }
