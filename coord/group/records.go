package group

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record keys and values are Kafka's: an OffsetCommitKey (key version 1)
// with an OffsetCommitValue (version 3, or 1 when the commit has an
// explicit expiry), and a GroupMetadataKey (key version 2) with a
// GroupMetadataValue (version 3). A group record is written when a
// generation completes its SyncGroup (members and assignments), when a
// static member replaces its old id without a rebalance, and when the group
// becomes Empty.

var (
	// ErrStarted is returned by Restore once the coordinator has served a
	// call: records are replayed before anything else.
	ErrStarted = errors.New("group: Restore after the coordinator started")

	// ErrBadRecord is wrapped by the error Restore returns for a record it
	// cannot decode.
	ErrBadRecord = errors.New("group: malformed __consumer_offsets record")
)

const (
	offsetKeyVersion   = 1
	groupKeyVersion    = 2
	offsetValueVersion = 3
	groupValueVersion  = 3
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetKeyVersion
	k.Group, k.Topic, k.Partition = group, topic, partition
	return k.AppendTo(nil)
}

func offsetValue(o *offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if !o.expireTime.IsZero() {
		v.Version = 1
		v.ExpireTimestamp = o.expireTime.UnixMilli()
	}
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime.UnixMilli()
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupKeyVersion
	k.Group = group
	return k.AppendTo(nil)
}

// recordGroup writes g's metadata: generation, protocol, leader and, for a
// Stable group, every member with its metadata and assignment.
func (c *Coordinator) recordGroup(g *group) {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = -1
	if !g.stateSince.IsZero() {
		v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	}
	for _, m := range g.members {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadata(g.protocol)
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	g.persisted = true
	c.record(groupKey(g.name), v.AppendTo(nil))
}

// Restore replays one record of __consumer_offsets, in log order, before
// the coordinator serves anything (ErrStarted afterwards). It is for the
// records of ordinary batches: those of transactional batches go to
// RestoreTxnRecord and markers to RestoreMarker, in the same log order
// (RestoreRecord dispatches a Record as Output wrote it). Offsets come
// back as committed; a group comes back as its last record describes it:
// Empty, or Stable with its generation, leader, members and assignments,
// as Kafka loads a group when a coordinator fails over. A restored
// member's only protocol is the group's, with the metadata it had. The
// first call after restoring (a Tick, best done at once) starts every
// restored member's session timeout. Tombstones delete. Records of kinds
// this coordinator does not write (KIP-848 groups, share groups) are
// ignored; an undecodable record is an error wrapping ErrBadRecord.
func (c *Coordinator) Restore(key, value []byte) error {
	if c.started {
		return ErrStarted
	}
	if len(key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	c.pos++
	switch version := int16(binary.BigEndian.Uint16(key)); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: offset key: %v", ErrBadRecord, err)
		}
		return c.restoreOffset(k, value)
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: group key: %v", ErrBadRecord, err)
		}
		return c.restoreGroup(k.Group, value)
	}
	return nil
}

func (c *Coordinator) restoreOffset(k kmsg.OffsetCommitKey, value []byte) error {
	g := c.groups[k.Group]
	if value == nil {
		if g == nil {
			return nil
		}
		if ps := g.offsets[k.Topic]; ps != nil {
			delete(ps, k.Partition)
			if len(ps) == 0 {
				delete(g.offsets, k.Topic)
			}
		}
		c.dropIfUnused(g)
		return nil
	}
	o, err := decodeOffset(value)
	if err != nil {
		return err
	}
	o.pos = c.pos
	if g == nil {
		g = c.newGroup(k.Group)
	}
	ps := g.offsets[k.Topic]
	if ps == nil {
		ps = make(map[int32]*offset)
		g.offsets[k.Topic] = ps
	}
	ps[k.Partition] = o
	return nil
}

// RestoreRecord restores a record as an Output holds it: with
// RestoreTxnRecord if it belongs to a producer's transaction, with Restore
// otherwise. (Tests replay their Outputs with it.)
func (c *Coordinator) RestoreRecord(r Record) error {
	if r.ProducerID >= 0 {
		return c.RestoreTxnRecord(r.ProducerID, r.Key, r.Value)
	}
	return c.Restore(r.Key, r.Value)
}

func decodeOffset(value []byte) (*offset, error) {
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("%w: offset value: %v", ErrBadRecord, err)
	}
	o := &offset{
		offset:      v.Offset,
		leaderEpoch: v.LeaderEpoch,
		metadata:    v.Metadata,
		commitTime:  time.UnixMilli(v.CommitTimestamp),
	}
	if v.Version < 3 {
		o.leaderEpoch = -1
	}
	if v.Version == 1 && v.ExpireTimestamp >= 0 {
		o.expireTime = time.UnixMilli(v.ExpireTimestamp)
	}
	return o, nil
}

func (c *Coordinator) restoreGroup(name string, value []byte) error {
	old := c.groups[name]
	if value == nil {
		if old != nil {
			c.deleteGroup(old)
			// Offsets, committed or pending in a transaction, outlive
			// the group as a simple group.
			if len(old.offsets) > 0 || len(c.txnGroups[name]) > 0 {
				c.newGroup(name).offsets = old.offsets
			}
		}
		return nil
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("%w: group value: %v", ErrBadRecord, err)
	}
	if old != nil {
		c.deleteGroup(old)
	}
	g := c.newGroup(name)
	if old != nil {
		g.offsets = old.offsets
	}
	g.persisted = true
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	g.stateSince = time.Time{}
	if v.CurrentStateTimestamp >= 0 {
		g.stateSince = time.UnixMilli(v.CurrentStateTimestamp)
	}
	if len(v.Members) > 0 && g.protocol == "" {
		return fmt.Errorf("%w: group %q has members but no protocol", ErrBadRecord, name)
	}
	for _, vm := range v.Members {
		if _, dup := g.byID[vm.MemberID]; dup {
			return fmt.Errorf("%w: group %q lists member %q twice", ErrBadRecord, name, vm.MemberID)
		}
		if vm.InstanceID != nil {
			if _, dup := g.static[*vm.InstanceID]; dup {
				return fmt.Errorf("%w: group %q lists instance %q twice", ErrBadRecord, name, *vm.InstanceID)
			}
		}
		m := &member{
			id:               vm.MemberID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{name: g.protocol, metadata: bytes.Clone(vm.Subscription)}},
			sessionTimeout:   millis(vm.SessionTimeoutMillis),
			rebalanceTimeout: millis(vm.RebalanceTimeoutMillis),
			assignment:       bytes.Clone(vm.Assignment),
		}
		if vm.RebalanceTimeoutMillis < 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		if vm.InstanceID != nil {
			iid := *vm.InstanceID
			m.instanceID = &iid
		}
		g.add(m)
	}
	g.protocolType = v.ProtocolType
	if v.Leader != nil && g.byID[*v.Leader] != nil {
		g.leader = *v.Leader
	}
	if len(g.members) > 0 {
		g.state = Stable
	} else {
		g.protocol = ""
		g.leader = ""
	}
	g.computeSubscribed()
	return nil
}
