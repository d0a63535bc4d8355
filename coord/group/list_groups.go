package group

// ListGroups (key 16), v0-v5.

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupType is the only group type this coordinator runs, as ListGroups
// v5+ names it.
const GroupType = "classic"

// ListGroups serves ListGroups v0-v5, groups sorted by name. v4+ filters by
// state and v5+ by type, both case-insensitively (as Kafka); every group is
// "classic", so a type filter without it lists nothing.
func (c *Coordinator) ListGroups(now time.Time, req *kmsg.ListGroupsRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if len(req.TypesFilter) > 0 && !containsFold(req.TypesFilter, GroupType) {
		c.reply(to, resp)
		return c.flush()
	}
	for _, g := range c.sortedGroups() {
		if len(req.StatesFilter) > 0 && !containsFold(req.StatesFilter, g.state.String()) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.name
		lg.ProtocolType = g.protocolType
		lg.GroupState = g.state.String()
		lg.GroupType = GroupType
		resp.Groups = append(resp.Groups, lg)
	}
	c.reply(to, resp)
	return c.flush()
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
