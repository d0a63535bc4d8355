package stream

import (
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// taskBalancer assigns tasks, not partitions: partition p of every source
// topic of a sub-topology goes to the same member, so co-partitioned
// inputs (joins) meet. It is eager (every rebalance revokes everything)
// and sticky: a task stays with its previous owner when the load allows,
// so its state does not move.
type taskBalancer struct {
	kgo.GroupBalancer                // metadata and assignment encoding of the consumer protocol
	subOf             map[string]int // resolved source topic -> sub-topology

	mu struct {
		sync.Mutex
		owned map[string][]int32 // what this member had last, announced when joining
	}
}

// setOwned records the member's current assignment.
func (b *taskBalancer) setOwned(owned map[string][]int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.owned = owned
}

// JoinGroupMetadata announces the topics and the partitions this member
// owned before (an eager rebalance revokes them first, so kgo's current
// assignment is empty here).
func (b *taskBalancer) JoinGroupMetadata(interests []string, _ map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 1
	meta.Topics = interests
	meta.Generation = generation
	b.mu.Lock()
	var topics []string
	for t := range b.mu.owned {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic = t
		o.Partitions = append([]int32(nil), b.mu.owned[t]...)
		sort.Slice(o.Partitions, func(i, j int) bool { return o.Partitions[i] < o.Partitions[j] })
		meta.OwnedPartitions = append(meta.OwnedPartitions, o)
	}
	b.mu.Unlock()
	return meta.AppendTo(nil)
}

func newTaskBalancer(subOf map[string]int) *taskBalancer {
	return &taskBalancer{GroupBalancer: kgo.RoundRobinBalancer(), subOf: subOf}
}

func (*taskBalancer) ProtocolName() string { return "eddy-streams" }

func (*taskBalancer) IsCooperative() bool { return false }

func (b *taskBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	return cb, cb.MemberTopics(), err
}

type taskKey struct {
	sub       int
	partition int32
}

// Balance implements kgo.ConsumerBalancerBalance.
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	plan := cb.NewPlan()
	members := cb.Members()
	if len(members) == 0 {
		return plan
	}
	// Tasks and their partitions.
	parts := map[taskKey][]string{}
	var names []string
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		sub, ok := b.subOf[t]
		if !ok {
			continue
		}
		for p := int32(0); p < topics[t]; p++ {
			k := taskKey{sub, p}
			parts[k] = append(parts[k], t)
		}
	}
	var tasks []taskKey
	for k := range parts {
		tasks = append(tasks, k)
	}
	sort.Slice(tasks, func(i, j int) bool {
		if tasks[i].partition != tasks[j].partition {
			return tasks[i].partition < tasks[j].partition
		}
		return tasks[i].sub < tasks[j].sub
	})
	// Previous owners, from the members' owned partitions.
	owner := map[taskKey]int{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		idx := -1
		for i := range members {
			if members[i].MemberID == m.MemberID {
				idx = i
			}
		}
		for _, o := range meta.OwnedPartitions {
			if sub, ok := b.subOf[o.Topic]; ok {
				for _, p := range o.Partitions {
					owner[taskKey{sub, p}] = idx
				}
			}
		}
	})
	capacity := (len(tasks) + len(members) - 1) / len(members)
	load := make([]int, len(members))
	assigned := map[taskKey]int{}
	for _, k := range tasks {
		if o, ok := owner[k]; ok && o >= 0 && load[o] < capacity {
			assigned[k] = o
			load[o]++
		}
	}
	for _, k := range tasks {
		if _, ok := assigned[k]; ok {
			continue
		}
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		assigned[k] = best
		load[best]++
	}
	for _, k := range tasks {
		m := &members[assigned[k]]
		for _, t := range parts[k] {
			plan.AddPartition(m, t, k.partition)
		}
	}
	return plan
}
