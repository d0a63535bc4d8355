package group

// SyncGroup (key 14), v0-v5.

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup serves SyncGroup v0-v5. During CompletingRebalance the reply
// is parked until the leader's SyncGroup arrives with the assignments; the
// leader's makes the group Stable, writes the group record (generation,
// members, assignments) and answers every parked SyncGroup. A member the
// leader assigned nothing gets an empty assignment. In a Stable group the
// member gets its assignment at once.
//
// Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL (v5+: a protocol type or
// name other than the group's), REBALANCE_IN_PROGRESS (the group is
// preparing a rebalance, or began one while the request was parked).
func (c *Coordinator) SyncGroup(now time.Time, req *kmsg.SyncGroupRequest, to ReplyTo) Output {
	c.begin(now)
	c.syncGroup(req, &parked{to: to, version: req.Version})
	return c.flush()
}

func (c *Coordinator) syncGroup(req *kmsg.SyncGroupRequest, p *parked) {
	resp := syncResponse(p.version)
	fail := func(code int16) {
		resp.ErrorCode = code
		c.reply(p.to, resp)
	}
	if req.Group == "" {
		fail(kerr.InvalidGroupID.Code)
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		fail(code)
		return
	}
	if req.Generation != g.generation {
		fail(kerr.IllegalGeneration.Code)
		return
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	m := g.byID[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case CompletingRebalance:
		if m.sync != nil { // superseded: the client gave up on it
			old := syncResponse(0)
			old.ErrorCode = kerr.RebalanceInProgress.Code
			c.answerSync(m, old)
		}
		m.sync = p
		c.synced(g, m)
		if g.leader == m.id {
			c.completeSync(g, req.GroupAssignment)
		}
	case Stable:
		c.synced(g, m)
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.MemberAssignment = m.assignment
		c.reply(p.to, resp)
	default:
		fail(kerr.UnknownMemberID.Code)
	}
}

// synced notes that m sent its SyncGroup for the generation.
func (c *Coordinator) synced(g *group, m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		c.disarm(&g.syncTimer)
	}
}

// completeSync takes the leader's assignments: the group becomes Stable,
// its record is written and every parked SyncGroup is answered.
func (c *Coordinator) completeSync(g *group, assignments []kmsg.SyncGroupRequestGroupAssignment) {
	byMember := make(map[string][]byte, len(assignments))
	for _, a := range assignments {
		byMember[a.MemberID] = a.MemberAssignment
	}
	for _, m := range g.members {
		m.assignment = bytes.Clone(byMember[m.id])
		if m.assignment == nil {
			m.assignment = []byte{}
		}
	}
	c.transition(g, Stable)
	c.recordGroup(g)
	for _, m := range g.members {
		if m.sync == nil {
			continue
		}
		resp := syncResponse(0)
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.MemberAssignment = m.assignment
		c.answerSync(m, resp)
		c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
	}
}
