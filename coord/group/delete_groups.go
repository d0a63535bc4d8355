package group

// DeleteGroups (key 42), v0-v2.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups serves DeleteGroups v0-v2: an Empty group is deleted with
// its committed offsets (a tombstone for each, then one for the group).
// Offsets pending in open transactions (TxnOffsetCommit) are not
// deleted: the transaction's marker settles them, and the group stays
// (again Empty, without protocol type, as after restoring the log) until
// then; if the transaction commits, they are the group's committed
// offsets. Errors per group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (the
// group has members).
func (c *Coordinator) DeleteGroups(now time.Time, req *kmsg.DeleteGroupsRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		sg := kmsg.NewDeleteGroupsResponseGroup()
		sg.Group = name
		switch g := c.groups[name]; {
		case g == nil:
			sg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != Empty:
			sg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			c.removeGroup(g)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	c.reply(to, resp)
	return c.flush()
}

// removeGroup deletes an Empty group and writes the tombstones of its
// offsets and, if it was ever written, of its metadata. KIP-394 member ids
// handed out for it are forgotten: their JoinGroup gets UNKNOWN_MEMBER_ID.
func (c *Coordinator) removeGroup(g *group) {
	for _, topic := range sortedKeys(g.offsets) {
		for _, p := range sortedKeys(g.offsets[topic]) {
			c.deleteOffset(g, topic, p)
		}
	}
	if g.persisted {
		c.record(groupKey(g.name), nil)
	}
	c.deleteGroup(g)
	if len(c.txnGroups[g.name]) > 0 {
		c.newGroup(g.name) // holds the pending offsets, as Restore would
	}
}
