package stream

import (
	"encoding/binary"
	"errors"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// taskBalancer assigns tasks, not partitions: partition p of every source
// topic of a sub-topology goes to the same member, so co-partitioned
// inputs (joins) meet. It is eager (every rebalance revokes everything)
// and sticky: a task stays with its previous owner when the load allows,
// so its state does not move; a task that must move goes preferably to a
// member that holds a warm copy of its stores (a standby). With standby
// replicas, it also gives every stateful task that many standby members
// besides its owner, spread evenly.
//
// What a member holds warm travels in its join metadata's user data (task
// and changelog position); the standby tasks of a member travel in its
// assignment's user data. Both are this package's own encoding (see
// encodeTasks).
type taskBalancer struct {
	kgo.GroupBalancer                // metadata and assignment encoding of the consumer protocol
	subOf             map[string]int // resolved source topic -> sub-topology
	stateful          map[int]bool   // sub-topologies with state stores
	replicas          int            // standby replicas per stateful task
	// warm returns the tasks whose stores this member keeps warm, with
	// the sum of their changelog positions (higher: more caught up).
	warm func() map[taskKey]int64

	mu struct {
		sync.Mutex
		owned    map[string][]int32 // what this member had last, announced when joining
		standbys []taskKey          // standby tasks of the last assignment
	}
}

// setOwned records the member's current assignment.
func (b *taskBalancer) setOwned(owned map[string][]int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.owned = owned
}

// assignedStandbys returns the standby tasks of the last assignment.
func (b *taskBalancer) assignedStandbys() []taskKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.standbys
}

// JoinGroupMetadata announces the topics, the partitions this member
// owned before (an eager rebalance revokes them first, so kgo's current
// assignment is empty here) and, in the user data, the tasks it holds
// warm.
func (b *taskBalancer) JoinGroupMetadata(interests []string, _ map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 1
	meta.Topics = interests
	meta.Generation = generation
	if b.warm != nil {
		meta.UserData = encodeTasks(b.warm())
	}
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

// ParseSyncAssignment returns the member's partitions and keeps the
// standby tasks of the assignment's user data for assignedStandbys.
func (b *taskBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	parts, err := kgo.ParseConsumerSyncAssignment(assignment)
	if err != nil {
		return nil, err
	}
	var standbys []taskKey
	if len(assignment) > 0 {
		a := kmsg.NewConsumerMemberAssignment()
		if err := a.ReadFrom(assignment); err != nil {
			return nil, err
		}
		tasks, err := decodeTasks(a.UserData)
		if err != nil {
			return nil, err
		}
		for k := range tasks {
			standbys = append(standbys, k)
		}
		sortTasks(standbys)
	}
	b.mu.Lock()
	b.mu.standbys = standbys
	b.mu.Unlock()
	return parts, nil
}

func newTaskBalancer(subOf map[string]int, stateful map[int]bool, replicas int, warm func() map[taskKey]int64) *taskBalancer {
	return &taskBalancer{GroupBalancer: kgo.RoundRobinBalancer(), subOf: subOf, stateful: stateful, replicas: replicas, warm: warm}
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

// sortTasks orders tasks by partition, then sub-topology, so that the
// tasks of one partition spread over the members.
func sortTasks(ts []taskKey) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].partition != ts[j].partition {
			return ts[i].partition < ts[j].partition
		}
		return ts[i].sub < ts[j].sub
	})
}

// Balance implements kgo.ConsumerBalancerBalance.
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	members := cb.Members()
	if len(members) == 0 {
		return cb.NewPlan()
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
	in := placement{members: len(members), owner: map[taskKey]int{}, warm: map[taskKey]map[int]int64{},
		replicas: b.replicas, stateful: func(k taskKey) bool { return b.stateful[k.sub] }}
	for k := range parts {
		in.tasks = append(in.tasks, k)
	}
	sortTasks(in.tasks)
	// Previous owners from the members' owned partitions, warm copies
	// from their user data.
	index := map[string]int{}
	for i := range members {
		index[members[i].MemberID] = i
	}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		idx := index[m.MemberID]
		for _, o := range meta.OwnedPartitions {
			if sub, ok := b.subOf[o.Topic]; ok {
				for _, p := range o.Partitions {
					in.owner[taskKey{sub, p}] = idx
				}
			}
		}
		// A member whose user data does not decode (another version)
		// just has nothing warm.
		warm, _ := decodeTasks(meta.UserData)
		for k, pos := range warm {
			if in.warm[k] == nil {
				in.warm[k] = map[int]int64{}
			}
			in.warm[k][idx] = pos
		}
	})
	out := in.place()
	assignments := make([]kmsg.ConsumerMemberAssignment, len(members))
	for i := range assignments {
		assignments[i] = kmsg.NewConsumerMemberAssignment()
	}
	for _, k := range in.tasks {
		a := &assignments[out.active[k]]
		for _, t := range parts[k] {
			a.Topics = addPartition(a.Topics, t, k.partition)
		}
	}
	standbys := make([]map[taskKey]int64, len(members))
	for k, ms := range out.standbys {
		for _, m := range ms {
			if standbys[m] == nil {
				standbys[m] = map[taskKey]int64{}
			}
			standbys[m][k] = 0
		}
	}
	plan := make(syncPlan, len(members))
	for i := range members {
		if standbys[i] != nil {
			assignments[i].UserData = encodeTasks(standbys[i])
		}
		sort.Slice(assignments[i].Topics, func(x, y int) bool { return assignments[i].Topics[x].Topic < assignments[i].Topics[y].Topic })
		plan[i] = kmsg.NewSyncGroupRequestGroupAssignment()
		plan[i].MemberID = members[i].MemberID
		plan[i].MemberAssignment = assignments[i].AppendTo(nil)
	}
	return plan
}

func addPartition(ts []kmsg.ConsumerMemberAssignmentTopic, topic string, p int32) []kmsg.ConsumerMemberAssignmentTopic {
	for i := range ts {
		if ts[i].Topic == topic {
			ts[i].Partitions = append(ts[i].Partitions, p)
			return ts
		}
	}
	t := kmsg.NewConsumerMemberAssignmentTopic()
	t.Topic, t.Partitions = topic, []int32{p}
	return append(ts, t)
}

// syncPlan is a finished assignment, one entry per member.
type syncPlan []kmsg.SyncGroupRequestGroupAssignment

func (p syncPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return p }

// placement is the input of the assignment: tasks, members (by index),
// where tasks were and who holds warm copies. It does no I/O.
type placement struct {
	tasks    []taskKey
	members  int
	owner    map[taskKey]int           // previous active member
	warm     map[taskKey]map[int]int64 // members with a warm copy, by changelog position
	stateful func(taskKey) bool        // tasks with stores (the only ones with standbys)
	replicas int                       // standbys per stateful task
}

// placed is where every task goes: its active member and the members
// keeping standbys of it.
type placed struct {
	active   map[taskKey]int
	standbys map[taskKey][]int
}

// place assigns the tasks. Actives: each member takes at most
// ceil(tasks/members); a task stays with its previous owner when that
// member has room, else goes to the member with room holding the most
// caught-up warm copy, else to the least loaded member. Standbys: each
// stateful task gets min(replicas, members-1) members other than its
// owner; members keep the warm copies they have while their share of
// standbys allows (most caught up first), the rest go to the members
// with the fewest standbys (then the fewest tasks).
func (in *placement) place() placed {
	out := placed{active: map[taskKey]int{}, standbys: map[taskKey][]int{}}
	if in.members == 0 {
		return out
	}
	capacity := (len(in.tasks) + in.members - 1) / in.members
	load := make([]int, in.members)
	give := func(k taskKey, m int) {
		out.active[k] = m
		load[m]++
	}
	for _, k := range in.tasks {
		if o, ok := in.owner[k]; ok && o >= 0 && o < in.members && load[o] < capacity {
			give(k, o)
		}
	}
	for _, k := range in.tasks {
		if _, ok := out.active[k]; ok {
			continue
		}
		if m := in.bestWarm(k, func(m int) bool { return load[m] < capacity }); m >= 0 {
			give(k, m)
		}
	}
	for _, k := range in.tasks {
		if _, ok := out.active[k]; ok {
			continue
		}
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		give(k, best)
	}

	n := min(in.replicas, in.members-1)
	if n <= 0 {
		return out
	}
	var stateful []taskKey
	for _, k := range in.tasks {
		if in.stateful(k) {
			stateful = append(stateful, k)
		}
	}
	share := (len(stateful)*n + in.members - 1) / in.members
	sload := make([]int, in.members)
	has := func(k taskKey, m int) bool {
		if out.active[k] == m {
			return true
		}
		for _, s := range out.standbys[k] {
			if s == m {
				return true
			}
		}
		return false
	}
	keep := func(k taskKey, m int) {
		out.standbys[k] = append(out.standbys[k], m)
		sload[m]++
	}
	for _, k := range stateful {
		for len(out.standbys[k]) < n {
			m := in.bestWarm(k, func(m int) bool { return sload[m] < share && !has(k, m) })
			if m < 0 {
				break
			}
			keep(k, m)
		}
	}
	for _, k := range stateful {
		for len(out.standbys[k]) < n {
			best := -1
			for m := 0; m < in.members; m++ {
				if has(k, m) {
					continue
				}
				if best < 0 || sload[m] < sload[best] || sload[m] == sload[best] && load[m] < load[best] {
					best = m
				}
			}
			keep(k, best)
		}
	}
	// Greedy choices can leave the counts uneven.
	for in.evenOut(out, stateful, sload, has) {
	}
	for _, k := range stateful {
		sort.Ints(out.standbys[k])
	}
	return out
}

// standbyMove moves the standby of task from one member to another.
type standbyMove struct {
	task     taskKey
	from, to int
}

// evenOut finds a member lo and a chain of moves from a member with at
// least two standbys more than lo down to lo, each member of the chain
// giving one standby to the next, and applies it. It prefers chains that
// move cold copies, and reports whether it found one.
func (in *placement) evenOut(out placed, tasks []taskKey, sload []int, has func(taskKey, int) bool) bool {
	order := make([]int, in.members)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return sload[order[i]] < sload[order[j]] })
	for _, lo := range order {
		for _, coldOnly := range []bool{true, false} {
			chain := in.chainTo(out, tasks, sload, has, lo, coldOnly)
			if chain == nil {
				continue
			}
			for _, mv := range chain {
				for i, m := range out.standbys[mv.task] {
					if m == mv.from {
						out.standbys[mv.task][i] = mv.to
					}
				}
			}
			sload[chain[0].from]--
			sload[lo]++
			return true
		}
	}
	return false
}

// chainTo searches, breadth first from lo, a chain of standby moves ending
// at lo and starting at a member with at least two standbys more than
// lo. The members of a chain are distinct, so its moves, checked against
// the current placement, stay valid together.
func (in *placement) chainTo(out placed, tasks []taskKey, sload []int, has func(taskKey, int) bool, lo int, coldOnly bool) []standbyMove {
	next := make([]standbyMove, in.members) // next[m]: m's move one step closer to lo
	reached := make([]bool, in.members)
	reached[lo] = true
	queue := []int{lo}
	for len(queue) > 0 {
		to := queue[0]
		queue = queue[1:]
		for _, k := range tasks {
			if has(k, to) {
				continue
			}
			for _, from := range out.standbys[k] {
				if _, warm := in.warm[k][from]; reached[from] || warm && coldOnly {
					continue
				}
				reached[from] = true
				next[from] = standbyMove{k, from, to}
				if sload[from] >= sload[lo]+2 {
					var chain []standbyMove
					for m := from; m != lo; m = next[m].to {
						chain = append(chain, next[m])
					}
					return chain
				}
				queue = append(queue, from)
			}
		}
	}
	return nil
}

// bestWarm returns the member allowed by ok holding the most caught-up
// warm copy of k (ties: lowest index), or -1.
func (in *placement) bestWarm(k taskKey, ok func(m int) bool) int {
	best, bestPos := -1, int64(0)
	for m, pos := range in.warm[k] {
		if m < 0 || m >= in.members || !ok(m) {
			continue
		}
		if best < 0 || pos > bestPos || pos == bestPos && m < best {
			best, bestPos = m, pos
		}
	}
	return best
}

// The user data of the group protocol: a version byte, then per task its
// sub-topology, partition and a position (varints).
const tasksVersion = 1

func encodeTasks(ts map[taskKey]int64) []byte {
	if len(ts) == 0 {
		return nil
	}
	keys := make([]taskKey, 0, len(ts))
	for k := range ts {
		keys = append(keys, k)
	}
	sortTasks(keys)
	b := []byte{tasksVersion}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendVarint(b, int64(k.sub))
		b = binary.AppendVarint(b, int64(k.partition))
		b = binary.AppendVarint(b, ts[k])
	}
	return b
}

var errTaskData = errors.New("stream: malformed task list in group user data")

func decodeTasks(b []byte) (map[taskKey]int64, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != tasksVersion {
		return nil, errTaskData
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errTaskData
	}
	b = b[k:]
	out := make(map[taskKey]int64, n)
	for i := uint64(0); i < n; i++ {
		var v [3]int64
		for j := range v {
			x, k := binary.Varint(b)
			if k <= 0 {
				return nil, errTaskData
			}
			v[j], b = x, b[k:]
		}
		if v[0] < 0 || v[0] > 1<<30 || v[1] < 0 || v[1] > 1<<30 {
			return nil, errTaskData
		}
		out[taskKey{int(v[0]), int32(v[1])}] = v[2]
	}
	if len(b) != 0 {
		return nil, errTaskData
	}
	return out, nil
}
