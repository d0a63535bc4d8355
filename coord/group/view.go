package group

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Read-only views for the CLI and the console. They return copies and
// change nothing (no timer fires: call Tick first for an up-to-date view).

// GroupListing is one group in Groups.
type GroupListing struct {
	Group        string
	ProtocolType string // "consumer", "connect", ...; "" for a simple group
	State        State
	Members      int
}

// GroupDescription describes one group.
type GroupDescription struct {
	Group        string
	State        State
	ProtocolType string
	Protocol     string // the generation's protocol ("range", ...); "" when Empty
	Generation   int32
	Leader       string
	Members      []MemberDescription // in join order
	// PendingMemberIDs counts KIP-394 member ids handed out and not used
	// yet.
	PendingMemberIDs int
}

// MemberDescription describes one member.
type MemberDescription struct {
	MemberID         string
	InstanceID       string // group.instance.id; "" for a dynamic member
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// Protocols are the member's protocols in preference order.
	Protocols []string
	// Metadata is the member's metadata for the group's protocol.
	Metadata []byte
	// Assignment is what the leader assigned in the latest SyncGroup; nil
	// while a rebalance has cleared it.
	Assignment []byte
	// Joining and Syncing tell whether the member has a JoinGroup or a
	// SyncGroup parked.
	Joining, Syncing bool
}

// ConsumerAssignment decodes the assignment of a "consumer" protocol
// member.
func (m MemberDescription) ConsumerAssignment() (kmsg.ConsumerMemberAssignment, error) {
	var a kmsg.ConsumerMemberAssignment
	err := a.ReadFrom(m.Assignment)
	return a, err
}

// ConsumerMetadata decodes the subscription of a "consumer" protocol
// member.
func (m MemberDescription) ConsumerMetadata() (kmsg.ConsumerMemberMetadata, error) {
	var md kmsg.ConsumerMemberMetadata
	err := md.ReadFrom(m.Metadata)
	return md, err
}

// CommittedOffset is one committed offset of a group.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    string
	CommitTime  time.Time
	ExpireTime  time.Time // zero unless the commit set an explicit expiry
}

// Groups lists every group, sorted by name.
func (c *Coordinator) Groups() []GroupListing {
	var out []GroupListing
	for _, g := range c.sortedGroups() {
		out = append(out, GroupListing{Group: g.name, ProtocolType: g.protocolType, State: g.state, Members: len(g.members)})
	}
	return out
}

// Group describes the group name, or reports false if there is none.
func (c *Coordinator) Group(name string) (GroupDescription, bool) {
	g := c.groups[name]
	if g == nil {
		return GroupDescription{}, false
	}
	d := GroupDescription{
		Group:            g.name,
		State:            g.state,
		ProtocolType:     g.protocolType,
		Protocol:         g.protocol,
		Generation:       g.generation,
		Leader:           g.leader,
		PendingMemberIDs: len(g.pending),
	}
	for _, m := range g.members {
		md := MemberDescription{
			MemberID:         m.id,
			ClientID:         m.clientID,
			ClientHost:       m.clientHost,
			SessionTimeout:   m.sessionTimeout,
			RebalanceTimeout: m.rebalanceTimeout,
			Metadata:         bytes.Clone(m.metadata(g.protocol)),
			Assignment:       bytes.Clone(m.assignment),
			Joining:          m.join != nil,
			Syncing:          m.sync != nil,
		}
		if m.instanceID != nil {
			md.InstanceID = *m.instanceID
		}
		for _, p := range m.protocols {
			md.Protocols = append(md.Protocols, p.name)
		}
		d.Members = append(d.Members, md)
	}
	return d, true
}

// Offsets returns the group's committed offsets sorted by topic and
// partition (nil for an unknown group).
func (c *Coordinator) Offsets(group string) []CommittedOffset {
	g := c.groups[group]
	if g == nil {
		return nil
	}
	var out []CommittedOffset
	for _, topic := range sortedKeys(g.offsets) {
		for _, p := range sortedKeys(g.offsets[topic]) {
			o := g.offsets[topic][p]
			out = append(out, CommittedOffset{
				Topic:       topic,
				Partition:   p,
				Offset:      o.offset,
				LeaderEpoch: o.leaderEpoch,
				Metadata:    o.metadata,
				CommitTime:  o.commitTime,
				ExpireTime:  o.expireTime,
			})
		}
	}
	return out
}

// PendingOffset is an offset committed by TxnOffsetCommit in a
// transaction that has not ended yet.
type PendingOffset struct {
	ProducerID int64
	CommittedOffset
}

// PendingOffsets returns the group's offsets pending in open transactions,
// sorted by producer id, topic and partition (nil if none). OffsetFetch
// does not see them.
func (c *Coordinator) PendingOffsets(group string) []PendingOffset {
	var out []PendingOffset
	for _, pid := range c.txnProducers(group) {
		byTopic := c.txnOffsets[pid][group]
		for _, topic := range sortedKeys(byTopic) {
			for _, p := range sortedKeys(byTopic[topic]) {
				o := byTopic[topic][p]
				out = append(out, PendingOffset{ProducerID: pid, CommittedOffset: CommittedOffset{
					Topic:       topic,
					Partition:   p,
					Offset:      o.offset,
					LeaderEpoch: o.leaderEpoch,
					Metadata:    o.metadata,
					CommitTime:  o.commitTime,
				}})
			}
		}
	}
	return out
}
