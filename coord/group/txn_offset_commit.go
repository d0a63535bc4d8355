package group

// TxnOffsetCommit (key 28), v0-v4, and the end of transactions: offsets
// committed inside a producer's transaction (KIP-98, KIP-447).

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit serves TxnOffsetCommit v0-v4: a transactional producer
// commits a group's offsets as part of its transaction. The offsets
// become pending for (group, producer id): OffsetFetch does not see them
// (with RequireStable, v7+, their partitions answer
// UNSTABLE_OFFSET_COMMIT), until CompleteTransaction commits them
// (they become the committed offsets) or aborts them (they vanish). Each
// accepted partition is written as an offset record carrying the
// request's producer id and epoch (Record.ProducerID), which the caller
// appends in a transactional batch of that producer; the reply is meant
// to be sent once those records are durable. A later TxnOffsetCommit of
// the same producer for the same partition replaces its pending offset.
//
// The caller checks with the transaction coordinator, before calling,
// that the producer id and epoch are current and that AddOffsetsToTxn
// added the group to the open transaction (Kafka's
// INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, INVALID_TXN_STATE...): the
// group coordinator knows nothing of transactions but what the log says.
//
// Member checks are Kafka's (ClassicGroup.validateOffsetCommit with
// isTransactional): v3+ may name the member, its generation and its
// group.instance.id, which must then match as for OffsetCommit
// (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION). Generation
// -1 with no member id and no instance id (always the case before v3)
// skips the check, even while the group has members, and a commit does
// not count as a heartbeat. Unlike OffsetCommit, CompletingRebalance is no
// error. An unknown group is created (Empty, without protocol type) by a
// commit with generation -1, and answers ILLEGAL_GENERATION otherwise.
// v2+ carries the leader epoch (-1 before). Commits have no explicit
// expiry.
//
// Errors, on every partition: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, INVALID_PRODUCER_ID_MAPPING (a negative producer
// id), INVALID_PRODUCER_EPOCH (a negative epoch); per partition:
// OFFSET_METADATA_TOO_LARGE.
func (c *Coordinator) TxnOffsetCommit(now time.Time, req *kmsg.TxnOffsetCommitRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	code, codes := c.txnOffsetCommit(req)
	for i, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			if codes != nil {
				sp.ErrorCode = codes[i][j]
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	c.reply(to, resp)
	return c.flush()
}

func (c *Coordinator) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest) (code int16, codes [][]int16) {
	switch {
	case req.ProducerID < 0:
		return kerr.InvalidProducerIDMapping.Code, nil
	case req.ProducerEpoch < 0:
		return kerr.InvalidProducerEpoch.Code, nil
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			return kerr.IllegalGeneration.Code, nil
		}
		g = c.newGroup(req.Group)
		defer c.dropIfUnused(g)
	}
	simple := req.Generation < 0 && g.state == Empty
	named := req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil
	if named && !simple {
		if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
			return code, nil
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code, nil
		}
	}

	codes = make([][]int16, len(req.Topics))
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			if len(md) > c.cfg.MaxOffsetMetadataBytes {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := &offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: md, commitTime: c.now}
			if req.Version < 2 {
				o.leaderEpoch = -1
			}
			o.pos = c.recordAs(offsetKey(g.name, rt.Topic, rp.Partition), offsetValue(o), req.ProducerID, req.ProducerEpoch)
			c.setTxnOffset(req.ProducerID, g.name, rt.Topic, rp.Partition, o)
		}
	}
	return 0, codes
}

// CompleteTransaction ends producer pid's transaction on
// __consumer_offsets, as its commit or abort marker there does
// (Kafka's GroupMetadata.completePendingTxnOffsetCommit): on commit, every
// offset it has pending, in any group, becomes the committed offset of
// its partition, unless the partition's committed offset was written
// later in the log (an OffsetCommit after the TxnOffsetCommit wins, one
// before loses, as when Kafka loads the log); on abort they are dropped.
// A group deleted meanwhile is created again (Empty, without protocol
// type) to hold the committed offsets. Nothing is written: the marker is
// the record.
//
// The caller calls it once the producer's marker is durable on
// __consumer_offsets, and before it serves a later TxnOffsetCommit of the
// same producer (the transaction coordinator refuses AddOffsetsToTxn for
// the producer's next transaction until every marker of the previous one
// is written, so serving TxnOffsetCommit only for groups in the open
// transaction is enough). A producer with nothing pending is no error.
// Like every call, it first fires the timers that are due, so the Output
// may hold records and replies of its own.
func (c *Coordinator) CompleteTransaction(now time.Time, producerID int64, commit bool) Output {
	c.begin(now)
	c.completeTxn(producerID, commit)
	return c.flush()
}

// RestoreTxnRecord replays a record of a transactional batch of
// __consumer_offsets (a TxnOffsetCommit) of producer producerID, in log
// order among Restore and RestoreMarker, before the coordinator serves
// anything (ErrStarted afterwards). An offset record becomes pending for
// the producer, a tombstone removes the producer's pending offset, and
// the producer's marker (RestoreMarker) settles them. Records of a
// transaction that never ended stay pending, as they are in the log,
// until CompleteTransaction. A group record (this coordinator never
// writes one in a transaction) is restored as by Restore.
func (c *Coordinator) RestoreTxnRecord(producerID int64, key, value []byte) error {
	if c.started {
		return ErrStarted
	}
	if len(key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != 0 && v != 1 {
		return c.Restore(key, value)
	}
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("%w: offset key: %v", ErrBadRecord, err)
	}
	c.pos++
	if value == nil {
		c.deleteTxnOffset(producerID, k.Group, k.Topic, k.Partition)
		if g := c.groups[k.Group]; g != nil {
			c.dropIfUnused(g)
		}
		return nil
	}
	o, err := decodeOffset(value)
	if err != nil {
		return err
	}
	o.pos = c.pos
	if c.groups[k.Group] == nil {
		c.newGroup(k.Group)
	}
	c.setTxnOffset(producerID, k.Group, k.Topic, k.Partition, o)
	return nil
}

// RestoreMarker replays a transaction marker (a control batch) of
// __consumer_offsets: it settles the producer's pending offsets as
// CompleteTransaction does. Like Restore, it fails with ErrStarted once
// the coordinator has served a call.
func (c *Coordinator) RestoreMarker(producerID int64, commit bool) error {
	if c.started {
		return ErrStarted
	}
	c.pos++
	c.completeTxn(producerID, commit)
	return nil
}

// completeTxn commits or aborts every pending offset of pid.
func (c *Coordinator) completeTxn(pid int64, commit bool) {
	byGroup := c.txnOffsets[pid]
	delete(c.txnOffsets, pid)
	for _, name := range sortedKeys(byGroup) {
		if ps := c.txnGroups[name]; ps != nil {
			delete(ps, pid)
			if len(ps) == 0 {
				delete(c.txnGroups, name)
			}
		}
		g := c.groups[name]
		if !commit {
			if g != nil {
				c.dropIfUnused(g)
			}
			continue
		}
		if g == nil {
			g = c.newGroup(name)
		}
		for topic, parts := range byGroup[name] {
			for p, o := range parts {
				ps := g.offsets[topic]
				if ps == nil {
					ps = make(map[int32]*offset)
					g.offsets[topic] = ps
				}
				if cur := ps[p]; cur == nil || cur.pos < o.pos {
					ps[p] = o
				}
			}
		}
	}
}

// setTxnOffset makes o pid's pending offset for the partition.
func (c *Coordinator) setTxnOffset(pid int64, group, topic string, partition int32, o *offset) {
	byGroup := c.txnOffsets[pid]
	if byGroup == nil {
		byGroup = make(map[string]map[string]map[int32]*offset)
		c.txnOffsets[pid] = byGroup
	}
	byTopic := byGroup[group]
	if byTopic == nil {
		byTopic = make(map[string]map[int32]*offset)
		byGroup[group] = byTopic
	}
	ps := byTopic[topic]
	if ps == nil {
		ps = make(map[int32]*offset)
		byTopic[topic] = ps
	}
	ps[partition] = o
	pids := c.txnGroups[group]
	if pids == nil {
		pids = make(map[int64]struct{})
		c.txnGroups[group] = pids
	}
	pids[pid] = struct{}{}
}

// deleteTxnOffset forgets pid's pending offset for the partition.
func (c *Coordinator) deleteTxnOffset(pid int64, group, topic string, partition int32) {
	byTopic := c.txnOffsets[pid][group]
	ps := byTopic[topic]
	if _, ok := ps[partition]; !ok {
		return
	}
	delete(ps, partition)
	if len(ps) > 0 {
		return
	}
	delete(byTopic, topic)
	if len(byTopic) > 0 {
		return
	}
	delete(c.txnOffsets[pid], group)
	if len(c.txnOffsets[pid]) == 0 {
		delete(c.txnOffsets, pid)
	}
	delete(c.txnGroups[group], pid)
	if len(c.txnGroups[group]) == 0 {
		delete(c.txnGroups, group)
	}
}

// hasTxnOffset reports whether an open transaction has an offset pending
// for the partition.
func (c *Coordinator) hasTxnOffset(group, topic string, partition int32) bool {
	for pid := range c.txnGroups[group] {
		if _, ok := c.txnOffsets[pid][group][topic][partition]; ok {
			return true
		}
	}
	return false
}

// txnProducers returns the producers with offsets pending in group,
// sorted.
func (c *Coordinator) txnProducers(group string) []int64 {
	pids := make([]int64, 0, len(c.txnGroups[group]))
	for pid := range c.txnGroups[group] {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}
