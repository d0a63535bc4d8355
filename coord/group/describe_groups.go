package group

// DescribeGroups (key 15), v0-v5.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups serves DescribeGroups v0-v5 (and v6's GROUP_ID_NOT_FOUND
// for an unknown group, which v0-v5 describe as Dead without an error).
// Members are listed in join order with client id and host; their protocol
// metadata and assignment, and the group's protocol, only when the group is
// Stable, as in Kafka. AuthorizedOperations is left for the broker to fill.
func (c *Coordinator) DescribeGroups(now time.Time, req *kmsg.DescribeGroupsRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		sg := kmsg.NewDescribeGroupsResponseGroup()
		sg.Group = name
		g := c.groups[name]
		if g == nil {
			sg.State = Dead.String()
			if req.Version >= 6 {
				sg.ErrorCode = kerr.GroupIDNotFound.Code
			}
			resp.Groups = append(resp.Groups, sg)
			continue
		}
		sg.State = g.state.String()
		sg.ProtocolType = g.protocolType
		if g.state == Stable {
			sg.Protocol = g.protocol
		}
		for _, m := range g.members {
			sm := kmsg.NewDescribeGroupsResponseGroupMember()
			sm.MemberID = m.id
			sm.InstanceID = m.instanceID
			sm.ClientID = m.clientID
			sm.ClientHost = m.clientHost
			if g.state == Stable {
				sm.ProtocolMetadata = m.metadata(g.protocol)
				sm.MemberAssignment = m.assignment
			}
			sg.Members = append(sg.Members, sm)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	c.reply(to, resp)
	return c.flush()
}
