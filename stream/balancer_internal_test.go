package stream

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func tasksOf(subs int, parts int32) []taskKey {
	var ts []taskKey
	for s := 0; s < subs; s++ {
		for p := int32(0); p < parts; p++ {
			ts = append(ts, taskKey{s, p})
		}
	}
	sortTasks(ts)
	return ts
}

// checkPlaced checks the invariants of any placement: every task has one
// active member, actives are balanced within one (without history; with
// it, no member takes more than its share), each stateful task has
// min(replicas, members-1) distinct standbys other than its active, none
// for stateless tasks, and standby counts per member differ by at most
// one where the balancer has a choice. It returns the standby count per
// member.
func checkPlaced(t *testing.T, in placement, out placed) []int {
	t.Helper()
	load := make([]int, in.members)
	sload := make([]int, in.members)
	want := min(in.replicas, in.members-1)
	for _, k := range in.tasks {
		a, ok := out.active[k]
		if !ok || a < 0 || a >= in.members {
			t.Fatalf("task %v: active %d (%v)", k, a, ok)
		}
		load[a]++
		seen := map[int]bool{a: true}
		n := want
		if !in.stateful(k) {
			n = 0
		}
		if len(out.standbys[k]) != n {
			t.Errorf("task %v: standbys %v, want %d", k, out.standbys[k], n)
		}
		for _, m := range out.standbys[k] {
			if seen[m] {
				t.Errorf("task %v: standby on %d twice or on its active (%d)", k, m, a)
			}
			seen[m] = true
			sload[m]++
		}
	}
	spread := func(what string, l []int) {
		lo, hi := l[0], l[0]
		for _, x := range l {
			lo, hi = min(lo, x), max(hi, x)
		}
		if hi-lo > 1 {
			t.Errorf("%s per member %v: not spread evenly", what, l)
		}
	}
	if capacity := (len(in.tasks) + in.members - 1) / in.members; len(in.owner) == 0 {
		spread("actives", load)
	} else if hi := slices.Max(load); hi > capacity {
		t.Errorf("actives per member %v over capacity %d", load, capacity)
	}
	if want > 0 && want < in.members-1 && len(in.owner) == 0 {
		// (With a standby on every other member, the counts are fixed.)
		spread("standbys", sload)
	}
	// With history, actives can leave too little room for an even
	// spread, but a member never keeps two standbys more than another
	// that could take one of them.
	for hi := range sload {
		for lo := range sload {
			if sload[hi] < sload[lo]+2 {
				continue
			}
			for _, k := range in.tasks {
				if slices.Contains(out.standbys[k], hi) && out.active[k] != lo && !slices.Contains(out.standbys[k], lo) {
					t.Errorf("standbys per member %v: member %d could take %v from %d", sload, lo, k, hi)
				}
			}
		}
	}
	return sload
}

func TestPlaceStandbysSpreadEvenly(t *testing.T) {
	for _, c := range []struct {
		members, replicas int
		subs              int
		parts             int32
	}{
		{2, 1, 1, 4}, {3, 1, 2, 3}, {3, 2, 1, 6}, {4, 1, 1, 6}, {4, 3, 2, 5}, {2, 5, 1, 3}, {1, 1, 1, 4}, {5, 2, 1, 2},
	} {
		t.Run(fmt.Sprintf("members=%d,replicas=%d,tasks=%d", c.members, c.replicas, c.subs*int(c.parts)), func(t *testing.T) {
			in := placement{tasks: tasksOf(c.subs, c.parts), members: c.members, replicas: c.replicas,
				stateful: func(taskKey) bool { return true }}
			checkPlaced(t, in, in.place())
		})
	}
}

func TestPlaceNoStandbysForStatelessTasks(t *testing.T) {
	in := placement{tasks: tasksOf(2, 3), members: 3, replicas: 1, stateful: func(k taskKey) bool { return k.sub == 1 }}
	out := in.place()
	checkPlaced(t, in, out)
	for k, ms := range out.standbys {
		if k.sub == 0 && len(ms) > 0 {
			t.Errorf("stateless task %v has standbys %v", k, ms)
		}
	}
	in.replicas = 0
	if out := in.place(); len(out.standbys) != 0 {
		t.Errorf("standbys without replicas: %v", out.standbys)
	}
}

// When a member leaves, each of its tasks goes to the member that kept a
// standby of it, and the tasks of the survivors stay where they were.
func TestPlaceMovesTasksToTheirStandbys(t *testing.T) {
	// Before: 3 members, 6 tasks, 1 replica.
	before := placement{tasks: tasksOf(1, 6), members: 3, replicas: 1, stateful: func(taskKey) bool { return true }}
	prev := before.place()
	checkPlaced(t, before, prev)
	// Member 1 dies: the survivors 0 and 2 become 0 and 1.
	newIndex := map[int]int{0: 0, 2: 1}
	after := placement{tasks: before.tasks, members: 2, replicas: 1, stateful: before.stateful,
		owner: map[taskKey]int{}, warm: map[taskKey]map[int]int64{}}
	for k, m := range prev.active {
		if n, ok := newIndex[m]; ok {
			after.owner[k] = n
			after.warm[k] = map[int]int64{n: 100}
		}
	}
	for k, ms := range prev.standbys {
		for _, m := range ms {
			if n, ok := newIndex[m]; ok {
				if after.warm[k] == nil {
					after.warm[k] = map[int]int64{}
				}
				after.warm[k][n] = 90
			}
		}
	}
	out := after.place()
	checkPlaced(t, after, out)
	for k, m := range prev.active {
		if n, ok := newIndex[m]; ok {
			if out.active[k] != n {
				t.Errorf("task %v moved from surviving member %d to %d", k, n, out.active[k])
			}
			continue
		}
		// The dead member's task: to the survivor with its standby.
		var holder int
		for h := range after.warm[k] {
			holder = h
		}
		if len(after.warm[k]) != 1 || out.active[k] != holder {
			t.Errorf("orphaned task %v went to %d, its standby was on %v", k, out.active[k], after.warm[k])
		}
	}
}

// A task without its previous owner goes to the most caught-up warm copy;
// standbys stay where warm copies are while the spread allows.
func TestPlacePrefersMostCaughtUpWarmCopy(t *testing.T) {
	k := taskKey{0, 0}
	in := placement{tasks: []taskKey{k}, members: 3, replicas: 1, stateful: func(taskKey) bool { return true },
		warm: map[taskKey]map[int]int64{k: {0: 10, 1: 500, 2: 499}}}
	out := in.place()
	if out.active[k] != 1 || !reflect.DeepEqual(out.standbys[k], []int{2}) {
		t.Fatalf("active %d standbys %v, want 1 and [2]", out.active[k], out.standbys[k])
	}
	// Warm copies out of range (a member that left) are ignored.
	in.warm[k] = map[int]int64{7: 1000}
	out = in.place()
	checkPlaced(t, in, out)
}

func TestTaskListEncoding(t *testing.T) {
	ts := map[taskKey]int64{{0, 0}: 0, {1, 7}: 123456789, {3, 2}: -1}
	got, err := decodeTasks(encodeTasks(ts))
	if err != nil || !reflect.DeepEqual(got, ts) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if got, err := decodeTasks(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	b := encodeTasks(ts)
	for _, bad := range [][]byte{{9}, b[:len(b)-1], append(append([]byte(nil), b...), 0), {1, 200}, {1, 1, 1}} {
		if _, err := decodeTasks(bad); err == nil {
			t.Errorf("%v decoded", bad)
		}
	}
}

// The whole group protocol path: members announce owned partitions and
// warm tasks in their join metadata, the leader balances, and each member
// parses its partitions and standby tasks from its assignment.
func TestBalancerAssignsStandbysThroughGroupProtocol(t *testing.T) {
	subOf := map[string]int{"in": 0, "app-x-repartition": 1}
	stateful := map[int]bool{0: false, 1: true}
	topics := map[string]int32{"in": 4, "app-x-repartition": 4}
	var bals []*taskBalancer
	var members []kmsg.JoinGroupResponseMember
	for i := 0; i < 2; i++ {
		warm := map[taskKey]int64{}
		if i == 1 {
			warm[taskKey{1, 2}] = 40 // member 1 keeps a warm copy of task 1_2
		}
		b := newTaskBalancer(subOf, stateful, 1, func() map[taskKey]int64 { return warm })
		if i == 0 {
			b.setOwned(map[string][]int32{"in": {0, 1}, "app-x-repartition": {0, 1}})
		}
		bals = append(bals, b)
		m := kmsg.NewJoinGroupResponseMember()
		m.MemberID = fmt.Sprint("m", i)
		m.ProtocolMetadata = b.JoinGroupMetadata([]string{"app-x-repartition", "in"}, nil, 1)
		members = append(members, m)
	}
	mb, _, err := bals[0].MemberBalancer(members)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := mb.(*kgo.ConsumerBalancer).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	active := map[taskKey]int{}
	standby := map[taskKey]int{}
	for _, a := range plan.IntoSyncAssignment() {
		i := int(a.MemberID[1] - '0')
		parts, err := bals[i].ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		for topic, ps := range parts {
			for _, p := range ps {
				k := taskKey{subOf[topic], p}
				if o, dup := active[k]; dup && o != i {
					t.Fatalf("task %v split over members %d and %d", k, o, i)
				}
				active[k] = i
			}
		}
		for _, k := range bals[i].assignedStandbys() {
			standby[k] = i
		}
	}
	if len(active) != 8 {
		t.Fatalf("%d tasks assigned: %v", len(active), active)
	}
	for _, k := range []taskKey{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
		if active[k] != 0 {
			t.Errorf("task %v left its owner: %d", k, active[k])
		}
	}
	if active[taskKey{1, 2}] != 1 {
		t.Errorf("task 1_2 went to %d, not to the member with its warm copy", active[taskKey{1, 2}])
	}
	if len(standby) != 4 {
		t.Errorf("standbys %v, want one per stateful task", standby)
	}
	for k, m := range standby {
		if k.sub != 1 || active[k] == m {
			t.Errorf("standby of %v on %d (active %d)", k, m, active[k])
		}
	}
}

// Random histories (previous owners, warm copies, stateless
// sub-topologies): the invariants hold every time.
func TestPlaceRandomHistories(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 2000; i++ {
		subs, parts := 1+rng.IntN(3), int32(1+rng.IntN(8))
		stateless := rng.IntN(subs + 1) // sub-topologies below it have no stores
		in := placement{tasks: tasksOf(subs, parts), members: 1 + rng.IntN(6), replicas: rng.IntN(4),
			stateful: func(k taskKey) bool { return k.sub >= stateless },
			owner:    map[taskKey]int{}, warm: map[taskKey]map[int]int64{}}
		for _, k := range in.tasks {
			if rng.IntN(3) > 0 {
				in.owner[k] = rng.IntN(in.members + 1) // may be a member that left
			}
			for m := 0; m < in.members+1; m++ {
				if rng.IntN(3) == 0 {
					if in.warm[k] == nil {
						in.warm[k] = map[int]int64{}
					}
					in.warm[k][m] = rng.Int64N(1000)
				}
			}
		}
		out := in.place()
		if checkPlaced(t, in, out); !t.Failed() {
			continue
		}
		t.Fatalf("placement %+v (stateless below %d)\n%+v", in, stateless, out)
	}
}
