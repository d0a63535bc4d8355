package group

// LeaveGroup (key 13), v0-v5.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup serves LeaveGroup v0-v5: it removes members and rebalances
// the rest. v0-v2 name one member by id; v3+ name a batch, each by member
// id, or by group.instance.id with an empty member id (how an admin removes
// a static member, which never leaves by itself: KIP-345), or by both, in
// which case they must match (FENCED_INSTANCE_ID otherwise). A member that
// was waiting in JoinGroup or SyncGroup gets UNKNOWN_MEMBER_ID there. A
// KIP-394 member id that was handed out but not used yet is forgotten.
//
// Errors (per member for v3+, top-level for v0-v2): INVALID_GROUP_ID
// (top-level), UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID.
func (c *Coordinator) LeaveGroup(now time.Time, req *kmsg.LeaveGroupRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		c.reply(to, resp)
		return c.flush()
	}
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	g := c.groups[req.Group]
	var removed, forgotten bool
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = lm.MemberID
		rm.InstanceID = lm.InstanceID
		rm.ErrorCode = c.leave(g, lm, &removed, &forgotten)
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	switch {
	case removed:
		c.rebalanceAfterRemoval(g)
	case forgotten:
		c.maybeCompleteJoin(g)
	}
	c.reply(to, resp)
	return c.flush()
}

// leave removes one member and says how it went; removed is set if a
// member left, forgotten if a KIP-394 pending member id was dropped. (Kafka
// rebalances a Stable group for the latter too; there is no need.)
func (c *Coordinator) leave(g *group, lm kmsg.LeaveGroupRequestMember, removed, forgotten *bool) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if lm.MemberID == "" {
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID.Code
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		c.removeMember(g, g.byID[id], kerr.UnknownMemberID.Code)
		*removed = true
		return 0
	}
	if pm := g.pending[lm.MemberID]; pm != nil {
		c.disarm(&pm.session)
		delete(g.pending, pm.id)
		*forgotten = true
		return 0
	}
	if code := g.validateMember(lm.MemberID, lm.InstanceID); code != 0 {
		return code
	}
	c.removeMember(g, g.byID[lm.MemberID], kerr.UnknownMemberID.Code)
	*removed = true
	return 0
}
