package group

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRandomized drives the coordinator with simulated consumers that join,
// sync, heartbeat, commit, change subscriptions, leave, crash and restart,
// static and dynamic, with random clock steps, admin requests and
// coordinator restarts from the records written so far. After every step
// it checks:
//
//   - the coordinator's internal invariants (checkInvariants);
//   - every reply answers a request still waiting for one (so none is
//     answered twice), and at the end, once every client is gone and the
//     timers have run, no request is left waiting: no reply is lost;
//   - every response encodes and decodes at its version;
//   - a heartbeat or commit is accepted only from the group's current
//     generation, and generations only grow (until the group is deleted or
//     the coordinator restarts from older records): at most one generation
//     is active;
//   - in a Stable group every member holds what the leader's SyncGroup of
//     the current generation gave it (carried over to a static member's
//     new id), and every SyncGroup answer agrees;
//   - the committed offsets are exactly those the records written so far
//     say, so offsets change only through acknowledged commits (an offset
//     record always comes with the OK reply of the commit that wrote it) or
//     deletions, and a restart from the records loses nothing;
//   - a group rebuilt from the records matches the live one when that is
//     Stable or Empty;
//   - transactional producers commit offsets (TxnOffsetCommit) into the
//     groups, as members or not, and end their transactions with commit or
//     abort markers: their records belong to their producer, their pending
//     offsets are what the records and markers say, and the committed
//     offsets after a marker too (the shadow replays the markers).
var traceRandom = flag.Bool("trace-random", false, "log TestRandomized's requests and replies")

func TestRandomized(t *testing.T) {
	seeds := 24
	steps := 1500
	if testing.Short() {
		seeds, steps = 4, 500
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, uint64(seed))
			s.trace = *traceRandom
			s.run(steps)
		})
	}
}

type clientState int8

const (
	csIdle    clientState = iota // must (re)join
	csJoining                    // JoinGroup outstanding
	csSyncing                    // SyncGroup outstanding
	csStable                     // has an assignment
)

type simClient struct {
	name     string
	group    string
	instance *string
	alive    bool
	life     int // incarnation: replies to an older one are ignored

	state  clientState
	busy   bool
	member string
	gen    int32
	topics []string
	protos []string

	session, rebalance time.Duration
	lastHB             time.Time
	nextOffset         int64

	zombie    string // the member id of a static client's previous incarnation
	zombieGen int32
}

type simReq struct {
	cl      *simClient
	life    int
	kind    string
	group   string
	gen     int32
	member  string
	oldID   string           // static join without member id: the id it replaces
	stable  bool             // ...sent to a Stable group (of generation gen)
	commits map[string]int64 // "topic:partition" -> offset
	pid     int64            // a TxnOffsetCommit's producer
	plan    map[string][]byte
}

type sim struct {
	t       *testing.T
	rng     *rand.Rand
	cfg     Config
	c       *Coordinator
	shadow  *Coordinator // never started: every record is restored into it as it is written
	now     time.Time
	log     []logEntry
	ids     int
	reqs    int
	waiting map[int]*simReq
	clients []*simClient

	txnOpen    map[int64]bool                         // producers with an open transaction
	maxGen     map[string]int32                       // per group, this coordinator's life
	assigned   map[string]map[int32]map[string][]byte // group -> generation -> member -> assignment
	restarts   int
	stepNumber int
	trace      bool // log every request and reply
	stats      map[string]int
}

func newSim(t *testing.T, seed uint64) *sim {
	s := &sim{
		t:        t,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:      t0,
		waiting:  make(map[int]*simReq),
		maxGen:   make(map[string]int32),
		txnOpen:  make(map[int64]bool),
		assigned: make(map[string]map[int32]map[string][]byte),
		stats:    make(map[string]int),
	}
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = []time.Duration{0, 0, time.Second, 3 * time.Second}[s.rng.IntN(4)]
	cfg.MaxGroupSize = []int{2, 4, 100}[s.rng.IntN(3)]
	cfg.OffsetsRetention = time.Duration(1+s.rng.IntN(10)) * time.Minute
	cfg.OffsetsRetentionCheckInterval = time.Duration(10+s.rng.IntN(50)) * time.Second
	cfg.NewMemberJoinTimeout = time.Duration(20+s.rng.IntN(60)) * time.Second
	s.cfg = cfg
	s.newCoordinator()
	var err error
	if s.shadow, err = New(cfg); err != nil {
		t.Fatal(err)
	}

	groups := []string{"g1", "g2"}
	for i := range 8 {
		cl := &simClient{
			name:      fmt.Sprintf("c%d", i),
			group:     groups[i%len(groups)],
			alive:     true,
			topics:    []string{"t"},
			protos:    []string{"range", "roundrobin"},
			session:   time.Duration(6+s.rng.IntN(15)) * time.Second,
			rebalance: time.Duration(5+s.rng.IntN(30)) * time.Second,
		}
		if s.rng.IntN(3) == 0 {
			cl.instance = kmsg.StringPtr(fmt.Sprintf("i%d", i))
		}
		s.clients = append(s.clients, cl)
	}
	return s
}

func (s *sim) newCoordinator() {
	cfg := s.cfg
	cfg.NewMemberID = func(prefix string) string {
		s.ids++
		return fmt.Sprintf("%s-%d", prefix, s.ids)
	}
	c, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.c = c
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("step %d (seed run %s): %s", s.stepNumber, s.t.Name(), fmt.Sprintf(format, args...))
}

func (s *sim) run(steps int) {
	for s.stepNumber = 0; s.stepNumber < steps; s.stepNumber++ {
		s.now = s.now.Add(time.Duration(s.rng.IntN(800)) * time.Millisecond)
		s.apply(s.c.Tick(s.now))
		for _, cl := range s.clients {
			s.act(cl)
		}
		if s.rng.IntN(8) == 0 {
			s.event()
		}
		if s.rng.IntN(6) == 0 {
			s.txn(s.clients[s.rng.IntN(len(s.clients))])
		}
		s.check()
	}
	// Everyone goes away; the timers must answer whatever is parked.
	for _, cl := range s.clients {
		cl.alive = false
	}
	for range 20 {
		s.now = s.now.Add(10 * time.Minute)
		s.apply(s.c.Tick(s.now))
		s.check()
	}
	s.t.Logf("%d restarts; replies: %v", s.restarts, s.stats)
	if len(s.waiting) > 0 {
		for id, r := range s.waiting {
			s.t.Errorf("request %d (%s by %s) never answered", id, r.kind, r.cl.name)
		}
		s.t.FailNow()
	}
}

// send issues a request and applies its output.
func (s *sim) send(r *simReq, req kmsg.Request, client Client) {
	s.reqs++
	id := s.reqs
	s.waiting[id] = r
	if r.cl != nil {
		r.life = r.cl.life
		r.cl.busy = true
	}
	if s.trace {
		s.t.Logf("%s #%d %s %+v", fmtTime(s.now), id, r.kind, req)
	}
	out, ok := s.c.Handle(s.now, client, req, id)
	if !ok {
		s.fatalf("not handled: %T", req)
	}
	s.apply(out)
}

func (s *sim) act(cl *simClient) {
	if !cl.alive || cl.busy {
		return
	}
	switch cl.state {
	case csIdle:
		s.join(cl)
	case csStable:
		if s.now.Sub(cl.lastHB) >= 2*time.Second && s.rng.IntN(20) != 0 { // sometimes a pause
			s.heartbeat(cl)
		} else if s.rng.IntN(6) == 0 {
			s.commit(cl)
		}
	}
}

func (s *sim) join(cl *simClient) {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = int16(3 + s.rng.IntN(7))
	if cl.instance != nil && r.Version < 5 {
		r.Version = 5
	}
	r.Group = cl.group
	r.MemberID = cl.member
	r.InstanceID = cl.instance
	r.SessionTimeoutMillis = int32(cl.session / time.Millisecond)
	r.RebalanceTimeoutMillis = int32(cl.rebalance / time.Millisecond)
	r.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = cl.topics
	for _, p := range cl.protos {
		r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: meta.AppendTo(nil)})
	}
	sr := &simReq{cl: cl, kind: "join", group: cl.group, member: cl.member}
	if cl.instance != nil && cl.member == "" {
		if g := s.c.groups[cl.group]; g != nil {
			sr.oldID = g.static[*cl.instance]
			sr.stable, sr.gen = g.state == Stable, g.generation
		}
	}
	cl.state = csJoining
	s.send(sr, r, Client{ID: cl.name, Host: "/10.0.0.1"})
}

func (s *sim) sync(cl *simClient, leaderOf []kmsg.JoinGroupResponseMember) {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = int16(s.rng.IntN(6))
	if cl.instance != nil && r.Version < 3 {
		r.Version = 3
	}
	r.Group = cl.group
	r.MemberID = cl.member
	r.InstanceID = cl.instance
	r.Generation = cl.gen
	sr := &simReq{cl: cl, kind: "sync", group: cl.group, gen: cl.gen, member: cl.member}
	if leaderOf != nil {
		// Round-robin six partitions of t (and of u, for subscribers).
		sr.plan = make(map[string][]byte)
		plans := make([]kmsg.ConsumerMemberAssignment, len(leaderOf))
		for _, topic := range []string{"t", "u"} {
			var subs []int
			for i, m := range leaderOf {
				var md kmsg.ConsumerMemberMetadata
				if md.ReadFrom(m.ProtocolMetadata) == nil && slices.Contains(md.Topics, topic) {
					subs = append(subs, i)
				}
			}
			for p := range 6 {
				if len(subs) == 0 {
					break
				}
				i := subs[p%len(subs)]
				a := &plans[i]
				if len(a.Topics) == 0 || a.Topics[len(a.Topics)-1].Topic != topic {
					a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: topic})
				}
				a.Topics[len(a.Topics)-1].Partitions = append(a.Topics[len(a.Topics)-1].Partitions, int32(p))
			}
		}
		for i, m := range leaderOf {
			if s.rng.IntN(10) == 0 {
				sr.plan[m.MemberID] = []byte{} // left out: gets an empty assignment
				continue
			}
			b := plans[i].AppendTo(nil)
			sr.plan[m.MemberID] = b
			r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.MemberID, MemberAssignment: b})
		}
	}
	cl.state = csSyncing
	s.send(sr, r, Client{})
}

func (s *sim) heartbeat(cl *simClient) {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = int16(s.rng.IntN(5))
	if cl.instance != nil && r.Version < 3 {
		r.Version = 3
	}
	r.Group, r.MemberID, r.InstanceID, r.Generation = cl.group, cl.member, cl.instance, cl.gen
	cl.lastHB = s.now
	s.send(&simReq{cl: cl, kind: "heartbeat", group: cl.group, gen: cl.gen, member: cl.member}, r, Client{})
}

func (s *sim) commit(cl *simClient) {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = int16(s.rng.IntN(10))
	if cl.instance != nil && r.Version < 7 {
		r.Version = 7
	}
	r.Group, r.MemberID, r.InstanceID, r.Generation = cl.group, cl.member, cl.instance, cl.gen
	sr := &simReq{cl: cl, kind: "commit", group: cl.group, gen: cl.gen, member: cl.member, commits: map[string]int64{}}
	for _, topic := range []string{"t", "u"} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := range int32(2) {
			cl.nextOffset += int64(s.rng.IntN(5))
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition = p
			rp.Offset = cl.nextOffset
			rp.Metadata = kmsg.StringPtr(cl.name)
			rt.Partitions = append(rt.Partitions, rp)
			sr.commits[fmt.Sprintf("%s:%d", topic, p)] = cl.nextOffset
		}
		r.Topics = append(r.Topics, rt)
	}
	s.send(sr, r, Client{})
}

// zombie sends a heartbeat or a commit from a static client's previous
// incarnation, which its new one should have fenced.
func (s *sim) zombie(cl *simClient) {
	if s.rng.IntN(2) == 0 {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Version = 4
		r.Group, r.MemberID, r.InstanceID, r.Generation = cl.group, cl.zombie, cl.instance, cl.zombieGen
		s.send(&simReq{kind: "heartbeat", group: cl.group, gen: cl.zombieGen, member: cl.zombie}, r, Client{})
		return
	}
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.MemberID, r.InstanceID, r.Generation = cl.group, cl.zombie, cl.instance, cl.zombieGen
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	s.reqs++
	rp.Offset = int64(s.reqs)
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{rp}}}
	s.send(&simReq{kind: "commit", group: cl.group, gen: cl.zombieGen, member: cl.zombie, commits: map[string]int64{"t:0": rp.Offset}}, r, Client{})
}

// event is something unusual: a crash, a restart, a leave, a change of
// subscription, an admin request, or a coordinator restart.
func (s *sim) event() {
	cl := s.clients[s.rng.IntN(len(s.clients))]
	switch s.rng.IntN(12) {
	case 0, 1: // crash: the client goes silent
		cl.alive = false
	case 2, 3: // (re)start: a new incarnation, which a static member says with its instance id
		if !cl.alive {
			if cl.instance != nil && cl.member != "" {
				cl.zombie, cl.zombieGen = cl.member, cl.gen
			}
			cl.alive, cl.life, cl.busy, cl.state, cl.member, cl.gen = true, cl.life+1, false, csIdle, "", -1
		}
	case 4: // leave
		if cl.alive && cl.member != "" && !cl.busy {
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Version = int16(s.rng.IntN(6))
			r.Group = cl.group
			if r.Version < 3 {
				r.MemberID = cl.member
			} else {
				m := kmsg.NewLeaveGroupRequestMember()
				m.MemberID = cl.member
				if cl.instance != nil && s.rng.IntN(2) == 0 {
					m.InstanceID = cl.instance
					if s.rng.IntN(2) == 0 {
						m.MemberID = "" // the admin way
					}
				}
				r.Members = append(r.Members, m)
			}
			s.send(&simReq{cl: cl, kind: "leave", group: cl.group}, r, Client{})
			cl.busy = false
			cl.state, cl.member, cl.gen = csIdle, "", -1
			cl.alive = s.rng.IntN(2) == 0
		}
	case 5: // a change of subscription (or protocols), then a rejoin
		if cl.alive && cl.state == csStable && !cl.busy {
			if len(cl.topics) == 1 {
				cl.topics = []string{"t", "u"}
			} else {
				cl.topics = []string{"t"}
			}
			if s.rng.IntN(3) == 0 {
				cl.protos = []string{"roundrobin", "range"}
			}
			s.join(cl)
		}
	case 6: // a rejoin without change (a leader does that for new partitions)
		if cl.alive && cl.state == csStable && !cl.busy {
			s.join(cl)
		}
	case 7:
		if cl.zombie != "" && s.rng.IntN(2) == 0 {
			s.zombie(cl)
		} else {
			s.admin()
		}
	case 8:
		if s.rng.IntN(4) == 0 {
			s.restart()
		}
	default: // a pause longer than most sessions
		s.now = s.now.Add(time.Duration(s.rng.IntN(15)) * time.Second)
		s.apply(s.c.Tick(s.now))
	}
}

func (s *sim) admin() {
	group := []string{"g1", "g2", "simple"}[s.rng.IntN(3)]
	switch s.rng.IntN(6) {
	case 0:
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Version = int16(s.rng.IntN(6))
		r.Groups = []string{"g1", "g2", "simple", "none"}
		s.send(&simReq{kind: "describe"}, r, Client{})
	case 1:
		r := kmsg.NewPtrListGroupsRequest()
		r.Version = int16(s.rng.IntN(6))
		s.send(&simReq{kind: "list"}, r, Client{})
	case 2:
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Version = int16(s.rng.IntN(10))
		if r.Version >= 8 {
			r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}, {Group: "none"}}
		} else {
			r.Group = group
			if r.Version < 2 {
				r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1, 2}}}
			}
		}
		s.send(&simReq{kind: "fetch"}, r, Client{})
	case 3: // a simple commit: only an Empty group takes it
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = int16(s.rng.IntN(10))
		r.Group = group
		s.reqs++ // unique offsets across the run
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = int64(s.reqs)
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{rp}}}
		s.send(&simReq{kind: "commit", group: group, gen: -1, commits: map[string]int64{"t:0": rp.Offset}}, r, Client{})
	case 4:
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Version = int16(s.rng.IntN(3))
		r.Groups = []string{group}
		s.send(&simReq{kind: "delete"}, r, Client{})
	case 5:
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 1}}}}
		s.send(&simReq{kind: "offset-delete"}, r, Client{})
	}
}

// restart is a broker crash: parked requests are lost with their
// connections, and the coordinator is rebuilt from the records.
func (s *sim) restart() {
	s.restarts++
	for id, r := range s.waiting {
		if r.cl != nil && r.life == r.cl.life {
			r.cl.busy = false
			r.cl.state = csIdle // it rejoins with what it knows
		}
		delete(s.waiting, id)
	}
	before := make(map[string]*group)
	for name, g := range s.c.groups {
		before[name] = g
	}
	s.newCoordinator()
	for _, e := range s.log {
		var err error
		if e.marker {
			err = s.c.RestoreMarker(e.pid, e.commit)
		} else {
			err = s.c.RestoreRecord(e.rec)
		}
		if err != nil {
			s.fatalf("restore: %v", err)
		}
	}
	s.apply(s.c.Tick(s.now))
	clear(s.maxGen)
	for name, g := range s.c.groups {
		s.maxGen[name] = g.generation
		if old := before[name]; old != nil && g.generation > old.generation {
			s.fatalf("group %s restored at generation %d, after %d", name, g.generation, old.generation)
		}
	}
}

// apply checks an output and feeds the replies to the clients.
func (s *sim) apply(out Output) {
	committed := map[string]int64{} // "group/topic:partition" acknowledged by an OK reply in this output
	for _, r := range out.Replies {
		id := r.To.(int)
		sr, ok := s.waiting[id]
		if !ok {
			s.fatalf("reply to request %d, which is not waiting: %s", id, fmtResponse(r.Response))
		}
		delete(s.waiting, id)
		if s.trace {
			s.t.Logf("  #%d -> %s", id, fmtResponse(r.Response))
		}
		s.roundTrip(r.Response)
		switch resp := r.Response.(type) {
		case *kmsg.OffsetCommitResponse:
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					key := fmt.Sprintf("%s:%d", t.Topic, p.Partition)
					if p.ErrorCode == 0 {
						committed[sr.group+"/"+key] = sr.commits[key]
					}
				}
			}
		case *kmsg.TxnOffsetCommitResponse:
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					key := fmt.Sprintf("%s:%d", t.Topic, p.Partition)
					if p.ErrorCode == 0 {
						committed[fmt.Sprintf("txn%d/%s/%s", sr.pid, sr.group, key)] = sr.commits[key]
					}
				}
			}
		}
		s.stats[statKey(sr.kind, r.Response)]++
		s.handle(sr, r.Response)
	}
	for _, rec := range out.Records {
		s.log = append(s.log, logEntry{rec: rec})
		if err := s.shadow.RestoreRecord(rec); err != nil {
			s.fatalf("restore: %v", err)
		}
		switch k := decodeKey(rec.Key).(type) {
		case kmsg.OffsetCommitKey:
			if rec.Value == nil {
				if rec.ProducerID >= 0 {
					s.fatalf("transactional tombstone %x", rec.Key)
				}
				continue // expiry (Tick) or a deletion
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(rec.Value); err != nil {
				s.fatalf("offset value: %v", err)
			}
			key := fmt.Sprintf("%s/%s:%d", k.Group, k.Topic, k.Partition)
			if rec.ProducerID >= 0 {
				key = fmt.Sprintf("txn%d/%s", rec.ProducerID, key)
				if !s.txnOpen[rec.ProducerID] || rec.ProducerEpoch != 0 {
					s.fatalf("transactional record %s of producer %d/%d, which has no open transaction", key, rec.ProducerID, rec.ProducerEpoch)
				}
			}
			if want, ok := committed[key]; !ok || want != v.Offset {
				s.fatalf("offset record %s = %d without an acknowledged commit of it (%v)", key, v.Offset, committed)
			}
		case kmsg.GroupMetadataKey:
			if rec.ProducerID >= 0 {
				s.fatalf("group record in a transaction")
			}
			if rec.Value == nil {
				delete(s.maxGen, k.Group)
				delete(s.assigned, k.Group)
			}
		default:
			s.fatalf("record with an unknown key %x", rec.Key)
		}
	}
}

// roundTrip encodes a response at its version and decodes it again.
func (s *sim) roundTrip(resp kmsg.Response) {
	b := resp.AppendTo(nil)
	again := kmsg.ResponseForKey(resp.Key())
	again.SetVersion(resp.GetVersion())
	if err := again.ReadFrom(b); err != nil {
		s.fatalf("%T v%d does not decode: %v", resp, resp.GetVersion(), err)
	}
}

// handle is the client's side of a reply, with the checks that belong
// there.
func (s *sim) handle(r *simReq, resp kmsg.Response) {
	cl := r.cl
	current := cl != nil && r.life == cl.life && cl.alive
	if current {
		cl.busy = false
	}
	g := s.c.groups[r.group]
	switch resp := resp.(type) {
	case *kmsg.JoinGroupResponse:
		if resp.ErrorCode == 0 {
			if resp.Generation < s.maxGen[r.group] {
				s.fatalf("join answered generation %d after %d", resp.Generation, s.maxGen[r.group])
			}
			s.maxGen[r.group] = resp.Generation
			if r.oldID != "" && r.stable && r.gen == resp.Generation {
				// A static member replaced its old id without a rebalance.
				if a := s.assigned[r.group][resp.Generation]; a != nil {
					a[resp.MemberID] = a[r.oldID]
				}
			}
		}
		if !current {
			return
		}
		switch resp.ErrorCode {
		case 0:
			cl.member, cl.gen = resp.MemberID, resp.Generation
			var leaderOf []kmsg.JoinGroupResponseMember
			if resp.LeaderID == resp.MemberID {
				leaderOf = resp.Members
				if leaderOf == nil {
					leaderOf = []kmsg.JoinGroupResponseMember{}
				}
			}
			s.sync(cl, leaderOf)
		case kerr.MemberIDRequired.Code:
			cl.member = resp.MemberID
			cl.state = csIdle
		case kerr.UnknownMemberID.Code:
			cl.member, cl.state = "", csIdle
		case kerr.FencedInstanceID.Code, kerr.GroupMaxSizeReached.Code:
			cl.alive = false // fatal for the Java consumer
		default:
			cl.state = csIdle
		}
	case *kmsg.SyncGroupResponse:
		if resp.ErrorCode == 0 {
			if a := s.assigned[r.group][r.gen]; a != nil && r.plan == nil {
				if want, ok := a[r.member]; ok && !bytes.Equal(want, resp.MemberAssignment) {
					s.fatalf("%s got %x in generation %d, the leader gave it %x", r.member, resp.MemberAssignment, r.gen, want)
				}
			}
			if r.plan != nil {
				if s.assigned[r.group] == nil {
					s.assigned[r.group] = make(map[int32]map[string][]byte)
				}
				s.assigned[r.group][r.gen] = r.plan
			}
		}
		if !current {
			return
		}
		s.afterMemberError(cl, resp.ErrorCode, true)
	case *kmsg.HeartbeatResponse:
		if resp.ErrorCode == 0 && (g == nil || g.generation != r.gen) {
			s.fatalf("heartbeat of generation %d accepted, the group is at %v", r.gen, g)
		}
		if current {
			s.afterMemberError(cl, resp.ErrorCode, false)
		}
	case *kmsg.TxnOffsetCommitResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && r.gen >= 0 && (g == nil || g.generation != r.gen) {
					s.fatalf("txn commit of generation %d accepted, the group is at %v", r.gen, g)
				}
			}
		}
	case *kmsg.OffsetCommitResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && r.gen >= 0 && (g == nil || g.generation != r.gen) {
					s.fatalf("commit of generation %d accepted, the group is at %v", r.gen, g)
				}
				if current {
					s.afterMemberError(cl, p.ErrorCode, false)
				}
			}
		}
	}
}

// afterMemberError is how a consumer reacts to a member request's answer.
func (s *sim) afterMemberError(cl *simClient, code int16, sync bool) {
	switch code {
	case 0:
		if sync {
			cl.state = csStable
			cl.lastHB = s.now
		}
	case kerr.RebalanceInProgress.Code, kerr.IllegalGeneration.Code:
		cl.state = csIdle
	case kerr.UnknownMemberID.Code:
		cl.member, cl.state = "", csIdle
	case kerr.FencedInstanceID.Code:
		cl.alive = false
	default:
		cl.state = csIdle
	}
}

// check runs the whole-coordinator checks.
func (s *sim) check() {
	if err := s.c.checkInvariants(); err != nil {
		s.fatalf("invariant: %v", err)
	}
	// Stable groups hold the leader's assignments.
	for name, g := range s.c.groups {
		if g.generation < s.maxGen[name] {
			s.fatalf("group %s at generation %d after %d", name, g.generation, s.maxGen[name])
		}
		if g.state != Stable {
			continue
		}
		a := s.assigned[name][g.generation]
		if a == nil {
			continue // restored from a record of a generation synced before a restart of the test's memory
		}
		for _, m := range g.members {
			if want, ok := a[m.id]; !ok || !bytes.Equal(want, m.assignment) {
				s.fatalf("group %s generation %d: %s holds %x, the leader gave %x", name, g.generation, m.id, m.assignment, want)
			}
		}
	}
	// The offsets are what the records say, and a coordinator rebuilt
	// from them agrees with this one.
	fresh := s.shadow
	for name, g := range s.c.groups {
		want := s.c.Offsets(name)
		got := fresh.Offsets(name)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			s.fatalf("group %s: offsets %v, the records say %v", name, want, got)
		}
		if want, got := s.c.PendingOffsets(name), fresh.PendingOffsets(name); fmt.Sprint(want) != fmt.Sprint(got) {
			s.fatalf("group %s: pending offsets %v, the records say %v", name, want, got)
		}
		rg := fresh.groups[name]
		switch {
		case g.state == Stable:
			if rg == nil || rg.state != Stable || rg.generation != g.generation || rg.leader != g.leader || len(rg.members) != len(g.members) {
				s.fatalf("group %s: Stable generation %d, the records say %+v", name, g.generation, rg)
			}
			for i, m := range g.members {
				rm := rg.members[i]
				if rm.id != m.id || !bytes.Equal(rm.assignment, m.assignment) || !bytes.Equal(rm.metadata(g.protocol), m.metadata(g.protocol)) {
					s.fatalf("group %s: member %s, the records say %s", name, m.id, rm.id)
				}
			}
		case g.state == Empty && g.persisted:
			if rg == nil || rg.state != Empty || rg.generation != g.generation {
				s.fatalf("group %s: Empty generation %d, the records say %+v", name, g.generation, rg)
			}
		}
	}
	for name := range fresh.groups {
		if s.c.groups[name] == nil && (len(fresh.Offsets(name)) > 0 || len(fresh.PendingOffsets(name)) > 0) {
			s.fatalf("group %s is gone but the records keep offsets for it", name)
		}
	}
}

// txn is a transactional producer's step: a TxnOffsetCommit in its open
// transaction (which it opens if needed), as a member of the group or not,
// or the end of its transaction, with the marker in the log.
func (s *sim) txn(cl *simClient) {
	pid := int64(100 + s.rng.IntN(3))
	if s.txnOpen[pid] && s.rng.IntN(3) == 0 {
		commit := s.rng.IntN(3) != 0
		delete(s.txnOpen, pid)
		s.log = append(s.log, logEntry{marker: true, pid: pid, commit: commit})
		if err := s.shadow.RestoreMarker(pid, commit); err != nil {
			s.fatalf("restore marker: %v", err)
		}
		if s.trace {
			s.t.Logf("%s marker pid=%d commit=%t", fmtTime(s.now), pid, commit)
		}
		s.apply(s.c.CompleteTransaction(s.now, pid, commit))
		return
	}
	s.txnOpen[pid] = true
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = int16(s.rng.IntN(5))
	r.TransactionalID = fmt.Sprint(pid)
	r.ProducerID = pid
	r.Group = []string{"g1", "g2", "simple"}[s.rng.IntN(3)]
	sr := &simReq{kind: "txn-commit", group: r.Group, gen: -1, pid: pid, commits: map[string]int64{}}
	if r.Version >= 3 && cl.member != "" && cl.group == r.Group && s.rng.IntN(2) == 0 {
		r.MemberID, r.InstanceID, r.Generation = cl.member, cl.instance, cl.gen
		sr.gen, sr.member = cl.gen, cl.member
	}
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"t", 0}, {"t", 1}, {"u", 0}} {
		if s.rng.IntN(2) == 0 {
			continue
		}
		s.reqs++ // unique offsets across the run
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition = tp.p
		rp.Offset = int64(s.reqs)
		r.Topics = append(r.Topics, kmsg.TxnOffsetCommitRequestTopic{Topic: tp.topic, Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{rp}})
		sr.commits[fmt.Sprintf("%s:%d", tp.topic, tp.p)] = rp.Offset
	}
	s.send(sr, r, Client{})
}

// statKey names a reply for the run's statistics: the request kind and its
// first error.
func statKey(kind string, resp kmsg.Response) string {
	code := int16(0)
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		code = r.ErrorCode
	case *kmsg.SyncGroupResponse:
		code = r.ErrorCode
	case *kmsg.HeartbeatResponse:
		code = r.ErrorCode
	case *kmsg.OffsetCommitResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			code = r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.TxnOffsetCommitResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			code = r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.DeleteGroupsResponse:
		code = r.Groups[0].ErrorCode
	case *kmsg.OffsetDeleteResponse:
		code = r.ErrorCode
	}
	return kind + "/" + errName(code)
}
