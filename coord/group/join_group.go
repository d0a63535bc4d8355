package group

// JoinGroup (key 11), v0-v9.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup serves JoinGroup v0-v9 from client. The reply is usually
// parked until the join phase of the rebalance completes; it comes at once
// for errors, for KIP-394's MEMBER_ID_REQUIRED (a v4+ dynamic member
// without a member id gets one and must join again with it within its
// session timeout), for a follower of a Stable or CompletingRebalance group
// rejoining with unchanged protocols (it gets the current generation), and
// for a static member that restarts (joins with its group.instance.id and
// no member id) into a Stable group with exactly its previous protocols and
// metadata: it replaces its old member id, which is fenced, and gets the
// current generation and its old assignment back without a rebalance
// (KIP-345; with v9+, a leader is told SkipAssignment, KIP-814). Kafka
// skips that rebalance whenever the selected protocol would stay the same;
// here any change of the member's protocols or metadata rebalances, so the
// leader always assigns from current subscriptions.
//
// Errors: INVALID_GROUP_ID for an empty group id, INVALID_SESSION_TIMEOUT,
// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL (no
// protocol type or protocols, another protocol type than the group's, or no
// protocol that every member supports), GROUP_MAX_SIZE_REACHED.
func (c *Coordinator) JoinGroup(now time.Time, client Client, req *kmsg.JoinGroupRequest, to ReplyTo) Output {
	c.begin(now)
	c.joinGroup(client, req, &parked{to: to, version: req.Version})
	return c.flush()
}

func (c *Coordinator) joinGroup(client Client, req *kmsg.JoinGroupRequest, p *parked) {
	fail := func(code int16, memberID string) {
		resp := joinResponse(p.version)
		resp.ErrorCode = code
		resp.MemberID = memberID
		c.reply(p.to, resp)
	}
	if req.Group == "" {
		fail(kerr.InvalidGroupID.Code, req.MemberID)
		return
	}
	session := millis(req.SessionTimeoutMillis)
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		fail(kerr.InvalidSessionTimeout.Code, req.MemberID)
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			fail(kerr.UnknownMemberID.Code, req.MemberID)
			return
		}
		g = c.newGroup(req.Group)
		defer c.dropIfUnused(g)
	}

	if !c.acceptJoiningMember(g, req.MemberID) {
		if m := g.byID[req.MemberID]; m != nil {
			// Kafka drops a member that has not rejoined once the
			// rejoining ones fill the group.
			c.removeMember(g, m, kerr.GroupMaxSizeReached.Code)
			c.maybeCompleteJoin(g)
		}
		fail(kerr.GroupMaxSizeReached.Code, "")
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		fail(kerr.InconsistentGroupProtocol.Code, req.MemberID)
		return
	}
	if req.MemberID == "" {
		c.joinNewMember(g, client, req, p)
	} else {
		c.joinExistingMember(g, client, req, p)
	}
}

// acceptJoiningMember is Kafka's group.max.size rule: during
// PreparingRebalance the members that have rejoined count (so that when
// the limit was lowered, the last ones to rejoin are left out), otherwise
// the members.
func (c *Coordinator) acceptJoiningMember(g *group, memberID string) bool {
	m := g.byID[memberID]
	switch g.state {
	case PreparingRebalance:
		return (m != nil && m.join != nil) || g.awaitingJoin < c.cfg.MaxGroupSize
	case CompletingRebalance, Stable:
		return m != nil || len(g.members) < c.cfg.MaxGroupSize
	}
	return true
}

func (c *Coordinator) joinNewMember(g *group, client Client, req *kmsg.JoinGroupRequest, p *parked) {
	prefix := client.ID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	id := c.newMemberID(g, prefix)
	if req.InstanceID != nil {
		if old, ok := g.static[*req.InstanceID]; ok {
			c.replaceStaticMember(g, g.byID[old], id, client, req, p)
			return
		}
		c.addMemberAndRebalance(g, id, client, req, p)
		return
	}
	if req.Version >= 4 {
		pm := &pendingMember{id: id}
		g.pending[id] = pm
		c.arm(&pm.session, c.now.Add(millis(req.SessionTimeoutMillis)), kindPending, g.name, id)
		resp := joinResponse(p.version)
		resp.ErrorCode = kerr.MemberIDRequired.Code
		resp.MemberID = id
		c.reply(p.to, resp)
		return
	}
	c.addMemberAndRebalance(g, id, client, req, p)
}

func (c *Coordinator) joinExistingMember(g *group, client Client, req *kmsg.JoinGroupRequest, p *parked) {
	if pm := g.pending[req.MemberID]; pm != nil && req.InstanceID == nil {
		c.disarm(&pm.session)
		delete(g.pending, pm.id)
		c.addMemberAndRebalance(g, pm.id, client, req, p)
		return
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		resp := joinResponse(p.version)
		resp.ErrorCode = code
		resp.MemberID = req.MemberID
		c.reply(p.to, resp)
		return
	}
	m := g.byID[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		c.updateMemberAndRebalance(g, m, req, p)
	case CompletingRebalance:
		if !m.matches(req.Protocols) {
			c.updateMemberAndRebalance(g, m, req, p)
			return
		}
		// It missed its response: the current generation again.
		resp := g.currentJoinResponse(m, true)
		resp.Version = p.version
		c.reply(p.to, resp)
	case Stable:
		// A rejoining leader rebalances: it may know of changes the
		// metadata does not show (new partitions, for consumers).
		if g.leader == m.id || !m.matches(req.Protocols) {
			c.updateMemberAndRebalance(g, m, req, p)
			return
		}
		resp := g.currentJoinResponse(m, false)
		resp.Version = p.version
		c.reply(p.to, resp)
	default:
		resp := joinResponse(p.version)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		resp.MemberID = req.MemberID
		c.reply(p.to, resp)
	}
}

func newMember(id string, client Client, req *kmsg.JoinGroupRequest) *member {
	m := &member{
		id:           id,
		clientID:     client.ID,
		clientHost:   client.Host,
		protocolType: req.ProtocolType,
	}
	if req.InstanceID != nil {
		iid := *req.InstanceID
		m.instanceID = &iid
	}
	setJoinSettings(m, req)
	return m
}

// setJoinSettings takes the protocols and timeouts of a JoinGroup. The
// caller keeps the group's protocol counts right.
func setJoinSettings(m *member, req *kmsg.JoinGroupRequest) {
	m.protocols = copyProtocols(req.Protocols)
	m.sessionTimeout = millis(req.SessionTimeoutMillis)
	m.rebalanceTimeout = millis(req.RebalanceTimeoutMillis)
	if req.Version == 0 || req.RebalanceTimeoutMillis < 0 {
		m.rebalanceTimeout = m.sessionTimeout // v0 has no rebalance timeout
	}
}

// addMemberAndRebalance adds a new member whose JoinGroup waits for the
// rebalance it starts (or joins).
func (c *Coordinator) addMemberAndRebalance(g *group, id string, client Client, req *kmsg.JoinGroupRequest, p *parked) {
	m := newMember(id, client, req)
	m.isNew = true
	if g.state == PreparingRebalance && g.initial != nil {
		g.newMemberAdded = true
	}
	g.add(m)
	c.parkJoin(g, m, p)
	c.arm(&m.session, c.now.Add(c.cfg.NewMemberJoinTimeout), kindSession, g.name, m.id)
	c.maybePrepareRebalanceOrCompleteJoin(g)
}

// updateMemberAndRebalance takes a known member's new JoinGroup.
func (c *Coordinator) updateMemberAndRebalance(g *group, m *member, req *kmsg.JoinGroupRequest, p *parked) {
	g.countProtocols(m, -1)
	setJoinSettings(m, req)
	g.countProtocols(m, 1)
	c.parkJoin(g, m, p)
	c.maybePrepareRebalanceOrCompleteJoin(g)
}

// replaceStaticMember gives the static member old a new member id: the old
// id is fenced (a request it had parked is answered FENCED_INSTANCE_ID) and
// the new member inherits its place, leadership and assignment.
func (c *Coordinator) replaceStaticMember(g *group, old *member, id string, client Client, req *kmsg.JoinGroupRequest, p *parked) {
	if old.join != nil {
		resp := joinResponse(0)
		resp.ErrorCode = kerr.FencedInstanceID.Code
		resp.MemberID = old.id
		c.answerJoin(g, old, resp)
	}
	if old.sync != nil {
		resp := syncResponse(0)
		resp.ErrorCode = kerr.FencedInstanceID.Code
		c.answerSync(old, resp)
	}
	c.disarm(&old.session)

	m := &member{
		id:               id,
		instanceID:       old.instanceID,
		clientID:         client.ID,
		clientHost:       client.Host,
		protocolType:     old.protocolType,
		protocols:        old.protocols,
		sessionTimeout:   old.sessionTimeout,
		rebalanceTimeout: old.rebalanceTimeout,
		assignment:       old.assignment,
	}
	for i, x := range g.members {
		if x == old {
			g.members[i] = m
		}
	}
	delete(g.byID, old.id)
	g.byID[id] = m
	g.static[*m.instanceID] = id
	if g.leader == old.id {
		g.leader = id
	}
	if _, ok := g.pendingSync[old.id]; ok {
		delete(g.pendingSync, old.id)
		g.pendingSync[id] = struct{}{}
	}

	oldProtocols := m.protocols
	g.countProtocols(m, -1)
	setJoinSettings(m, req)
	g.countProtocols(m, 1)
	c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, id)
	c.parkJoin(g, m, p)

	switch g.state {
	case Stable:
		if protocolsEqual(oldProtocols, m.protocols) {
			c.recordGroup(g)
			resp := g.currentJoinResponse(m, true)
			resp.SkipAssignment = g.leader == m.id
			c.answerJoin(g, m, resp)
			return
		}
		c.prepareRebalance(g)
	case CompletingRebalance:
		// The leader may already be assigning to the old id.
		c.prepareRebalance(g)
	case PreparingRebalance:
		c.maybeCompleteJoin(g)
	}
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
