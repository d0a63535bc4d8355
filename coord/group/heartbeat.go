package group

// Heartbeat (key 12), v0-v4.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat serves Heartbeat v0-v4: it restarts the member's session
// timeout. During PreparingRebalance it answers REBALANCE_IN_PROGRESS (the
// member must rejoin) and still counts as a heartbeat.
//
// Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID (also for an unknown or Empty
// group), FENCED_INSTANCE_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS.
func (c *Coordinator) Heartbeat(now time.Time, req *kmsg.HeartbeatRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.heartbeat(req)
	c.reply(to, resp)
	return c.flush()
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[req.Group]
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.byID[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
		return kerr.RebalanceInProgress.Code
	case CompletingRebalance, Stable:
		c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
		return 0
	}
	return kerr.UnknownMemberID.Code
}
