package txn

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRandom drives the coordinator with random clients, zombies, marker
// writes, time and crashes, the way the broker does (records made durable
// before replies are delivered and markers written), and checks after
// every step:
//
//   - the coordinator's own invariants (checkInvariants);
//   - at most one open transaction per transactional id: at most one
//     marker request outstanding per id, and only for a Prepare* state
//     with the same producer id and epoch;
//   - every EndTxn commit that was acknowledged ends in CompleteCommit,
//     even across crashes, and nothing else is recorded for the id before
//     it;
//   - epochs never decrease: in the durable log, per producer id, and in
//     the InitProducerId answers a client receives; a producer id belongs
//     to one transactional id, and an id never goes back to a producer id
//     it left;
//   - markers are asked for exactly the partitions added: at least every
//     partition whose addition was acknowledged, and no partition that was
//     not asked for;
//   - a request with a producer id and epoch that are not the current ones
//     never succeeds, and IsPartitionInTxn agrees with the state;
//   - a restart restores the state (but for the groups) from the log.
func TestRandom(t *testing.T) {
	total := map[string]int{}
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, seed)
			for range 1500 {
				s.step()
				if t.Failed() {
					t.Fatalf("seed %d failed at step %d", seed, s.steps)
				}
			}
			s.drain()
			for k, n := range s.stats {
				total[k] += n
			}
		})
	}
	t.Logf("%v", total)
	// The workload must reach what the invariants are about.
	for _, k := range []string{"commit acknowledged", "commit completed", "abort completed", "fenced by timeout",
		"fenced by InitProducerId", "stale refused", "crash", "markers asked again after a crash", "expired"} {
		if total[k] < 10 {
			t.Errorf("only %d of %q", total[k], k)
		}
	}
}

var (
	simIDs    = []string{"a", "b", "c"}
	simTopics = []TopicPartition{{"t", 0}, {"t", 1}, {"u", 0}, {"v", 2}}
	simGroups = []string{"g", "h"}
)

type simReq struct {
	kind   string // init, add, offsets, end
	id     string
	pid    int64
	epoch  int16
	stale  bool     // pid/epoch were not the id's current ones when sent
	kip360 bool     // an InitProducerId naming pid/epoch
	before [2]int64 // init: the id's producer id and epoch when sent, or -1s
	parts  []TopicPartition
	commit bool
}

type simClient struct {
	known  [][2]int64 // (pid, epoch) pairs received, oldest first
	last   [2]int64   // the last InitProducerId answer, for monotonicity
	acked  map[TopicPartition]bool
	sent   map[TopicPartition]bool
	pids   map[int64]bool // producer ids the id has had in the log
	record *kmsg.TxnMetadataValue
}

type sim struct {
	t      *testing.T
	rng    *rand.Rand
	cfg    Config
	c      *Coordinator
	now    time.Time
	steps  int
	pidSeq int64

	log     []Record // durable
	pending *Output  // the last call's output, not yet durable
	queue   []Markers

	stats      map[string]int
	clients    map[string]*simClient
	pidOwner   map[int64]string
	mustCommit map[string][2]int64 // acknowledged commits not yet complete
}

func newSim(t *testing.T, seed uint64) *sim {
	s := &sim{
		t:          t,
		rng:        rand.New(rand.NewPCG(seed, seed*7919)),
		now:        time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		stats:      map[string]int{},
		clients:    map[string]*simClient{},
		pidOwner:   map[int64]string{},
		mustCommit: map[string][2]int64{},
	}
	for _, id := range simIDs {
		s.clients[id] = &simClient{acked: map[TopicPartition]bool{}, sent: map[TopicPartition]bool{}, pids: map[int64]bool{}, last: [2]int64{-1, -1}}
	}
	s.cfg = DefaultConfig()
	s.cfg.TransactionMaxTimeout = time.Minute
	s.cfg.TransactionalIDExpiration = 3 * time.Minute
	s.cfg.OffsetsTopicPartitions = 3
	s.cfg.AllocateProducerID = func() (int64, error) {
		if s.rng.IntN(20) == 0 {
			return 0, fmt.Errorf("injected")
		}
		s.pidSeq++
		return s.pidSeq, nil
	}
	c, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	return s
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("step %d: "+format, append([]any{s.steps}, args...)...)
}

func (s *sim) step() {
	s.steps++
	switch r := s.rng.IntN(100); {
	case r < 2:
		s.crash(false) // the last call's records were never durable
	case r < 4:
		s.commitPending(false) // durable, but the replies are lost
		s.crash(true)
	default:
		s.commitPending(true)
		s.act()
	}
	s.check()
}

// act makes one call.
func (s *sim) act() {
	id := simIDs[s.rng.IntN(len(simIDs))]
	cl := s.clients[id]
	switch r := s.rng.IntN(100); {
	case r < 12:
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = int16(3 + s.rng.IntN(3))
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = int32(5000 + s.rng.IntN(20000))
		if len(cl.known) > 0 && s.rng.IntN(2) == 0 { // KIP-360
			pe := s.pick(cl)
			req.ProducerID, req.ProducerEpoch = pe[0], int16(pe[1])
		}
		s.call(&simReq{kind: "init", id: id, pid: req.ProducerID, epoch: req.ProducerEpoch, kip360: req.ProducerID != -1}, req)
	case r < 40:
		pe := s.pick(cl)
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = int16(s.rng.IntN(4))
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pe[0], int16(pe[1])
		var parts []TopicPartition
		for _, tp := range simTopics {
			if s.rng.IntN(3) == 0 {
				parts = append(parts, tp)
				req.Topics = append(req.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
			}
		}
		s.call(&simReq{kind: "add", id: id, pid: pe[0], epoch: int16(pe[1]), parts: parts}, req)
	case r < 50:
		pe := s.pick(cl)
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.Version = int16(s.rng.IntN(5))
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pe[0], int16(pe[1])
		req.Group = simGroups[s.rng.IntN(len(simGroups))]
		tp := TopicPartition{OffsetsTopic, PartitionFor(req.Group, s.cfg.OffsetsTopicPartitions)}
		s.call(&simReq{kind: "offsets", id: id, pid: pe[0], epoch: int16(pe[1]), parts: []TopicPartition{tp}}, req)
	case r < 65:
		pe := s.pick(cl)
		req := kmsg.NewPtrEndTxnRequest()
		req.Version = int16(s.rng.IntN(6))
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pe[0], int16(pe[1])
		req.Commit = s.rng.IntN(3) > 0
		s.call(&simReq{kind: "end", id: id, pid: pe[0], epoch: int16(pe[1]), commit: req.Commit}, req)
	case r < 80:
		if len(s.queue) == 0 {
			s.tick(time.Duration(s.rng.IntN(2000)) * time.Millisecond)
			return
		}
		i := s.rng.IntN(len(s.queue))
		m := s.queue[i]
		s.queue = slices.Delete(s.queue, i, i+1)
		out := s.c.MarkersWritten(s.now, m.TransactionalID, m.ProducerID, m.ProducerEpoch)
		s.pending = &out
	case r < 85:
		// A report for markers nobody asked for changes nothing.
		pid, epoch := int64(s.rng.IntN(5)), int16(s.rng.IntN(3))
		out := s.c.MarkersWritten(s.now, id, pid, epoch)
		i := slices.IndexFunc(s.queue, func(m Markers) bool {
			return m.TransactionalID == id && m.ProducerID == pid && m.ProducerEpoch == epoch
		})
		asked := i >= 0
		if asked { // a lucky guess: the markers were written
			s.queue = slices.Delete(s.queue, i, i+1)
		}
		for _, r := range out.Records {
			if !asked && slices.Equal(r.Key, txnKey(id)) {
				s.fail("an unasked MarkersWritten for %s wrote %s", id, fmtRecord(s.t, r))
			}
		}
		s.pending = &out
	case r < 97:
		s.tick(time.Duration(s.rng.IntN(3000)) * time.Millisecond)
	default:
		s.tick(time.Duration(s.rng.IntN(240)) * time.Second)
	}
}

// pick returns the client's latest producer id and epoch, or sometimes an
// older one (a zombie), or nonsense if it has none.
func (s *sim) pick(cl *simClient) [2]int64 {
	if len(cl.known) == 0 {
		return [2]int64{int64(s.rng.IntN(5)), int64(s.rng.IntN(2))}
	}
	if s.rng.IntN(6) == 0 {
		return cl.known[s.rng.IntN(len(cl.known))]
	}
	return cl.known[len(cl.known)-1]
}

func (s *sim) tick(d time.Duration) {
	s.now = s.now.Add(d)
	out := s.c.Tick(s.now)
	s.pending = &out
}

func (s *sim) call(r *simReq, req kmsg.Request) {
	pid, epoch, ok := s.c.Producer(r.id)
	r.before = [2]int64{pid, int64(epoch)}
	r.stale = !ok || pid != r.pid || epoch != r.epoch
	if r.kind != "init" {
		if !r.stale {
			for _, tp := range r.parts {
				s.clients[r.id].sent[tp] = true
			}
		}
	}
	out, ok := s.c.Handle(s.now, req, r)
	if !ok || len(out.Replies) != 1 || out.Replies[0].To != r {
		s.fail("%s: handled %t, replies %+v", r.kind, ok, out.Replies)
	}
	s.pending = &out
}

// commitPending makes the last call's records durable and, if deliver,
// sends its replies and starts its markers.
func (s *sim) commitPending(deliver bool) {
	out := s.pending
	s.pending = nil
	if out == nil {
		return
	}
	for _, r := range out.Records {
		if r.Value != nil {
			var v kmsg.TxnMetadataValue
			if v.ReadFrom(r.Value) == nil && State(v.State) == PrepareAbort {
				if len(out.Replies) == 0 {
					s.stats["fenced by timeout"]++
				} else if _, ok := out.Replies[0].Response.(*kmsg.InitProducerIDResponse); ok {
					s.stats["fenced by InitProducerId"]++
				}
			}
		}
		s.log = append(s.log, r)
		s.durable(r)
	}
	if !deliver {
		return
	}
	for _, r := range out.Replies {
		s.reply(r.To.(*simReq), r.Response)
	}
	for _, m := range out.Markers {
		s.asked(m)
	}
}

// durable checks a record as it becomes durable.
func (s *sim) durable(r Record) {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(r.Key); err != nil {
		s.fail("bad key: %v", err)
		return
	}
	cl := s.clients[k.TransactionalID]
	var v *kmsg.TxnMetadataValue
	if r.Value != nil {
		v = new(kmsg.TxnMetadataValue)
		if err := v.ReadFrom(r.Value); err != nil {
			s.fail("bad value: %v", err)
			return
		}
	}
	if exp, ok := s.mustCommit[k.TransactionalID]; ok {
		switch {
		case v != nil && State(v.State) == CompleteCommit && v.ProducerID == exp[0] && int64(v.ProducerEpoch) == exp[1]:
			delete(s.mustCommit, k.TransactionalID)
			s.stats["commit completed"]++
		default:
			s.fail("%s: acknowledged commit of %v followed by %s", k.TransactionalID, exp, fmtRecord(s.t, r))
		}
	}
	if v != nil {
		if owner, ok := s.pidOwner[v.ProducerID]; ok && owner != k.TransactionalID {
			s.fail("producer id %d of %s reused by %s", v.ProducerID, owner, k.TransactionalID)
		}
		s.pidOwner[v.ProducerID] = k.TransactionalID
		if last := cl.record; last != nil {
			switch {
			case last.ProducerID == v.ProducerID && v.ProducerEpoch < last.ProducerEpoch:
				s.fail("%s: epoch of %d went from %d to %d", k.TransactionalID, v.ProducerID, last.ProducerEpoch, v.ProducerEpoch)
			case last.ProducerID != v.ProducerID && cl.pids[v.ProducerID]:
				s.fail("%s: went back to producer id %d", k.TransactionalID, v.ProducerID)
			}
		}
		cl.pids[v.ProducerID] = true
	}
	switch {
	case v == nil:
		s.stats["expired"]++
	case State(v.State) == CompleteAbort:
		s.stats["abort completed"]++
	}
	if v == nil || !(State(v.State) == Ongoing || State(v.State) == PrepareCommit || State(v.State) == PrepareAbort) {
		clear(cl.acked)
		clear(cl.sent)
	}
	cl.record = v
}

// reply checks a delivered reply against what was sent.
func (s *sim) reply(r *simReq, resp kmsg.Response) {
	cl := s.clients[r.id]
	var code int16
	switch resp := resp.(type) {
	case *kmsg.InitProducerIDResponse:
		code = resp.ErrorCode
		if code != 0 {
			return
		}
		got := [2]int64{resp.ProducerID, int64(resp.ProducerEpoch)}
		if got[0] == cl.last[0] && got[1] < cl.last[1] {
			s.fail("%s: InitProducerId went from %v to %v", r.id, cl.last, got)
		}
		if cl.record == nil || cl.record.ProducerID != got[0] || int64(cl.record.ProducerEpoch) != got[1] || State(cl.record.State) != Empty {
			s.fail("%s: InitProducerId answered %v, the log says %+v", r.id, got, cl.record)
		}
		// A producer naming an id and epoch that are not the current ones
		// may at most be told the current ones again (a retry): it never
		// takes the id over.
		if r.kip360 && r.stale && r.before[0] != -1 && got != r.before {
			s.fail("%s: InitProducerId naming %d/%d answered %v, the id was at %v", r.id, r.pid, r.epoch, got, r.before)
		}
		cl.last = got
		cl.known = append(cl.known, got)
		return
	case *kmsg.AddPartitionsToTxnResponse:
		codes := map[int16]bool{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				codes[p.ErrorCode] = true
				code = p.ErrorCode
			}
		}
		if len(codes) > 1 {
			s.fail("add: mixed codes %v", codes)
		}
		if len(codes) == 0 { // no partitions, no answer to check
			return
		}
	case *kmsg.AddOffsetsToTxnResponse:
		code = resp.ErrorCode
	case *kmsg.EndTxnResponse:
		code = resp.ErrorCode
	}
	if code == 0 && r.stale {
		s.fail("%s %s with stale %d/%d succeeded", r.kind, r.id, r.pid, r.epoch)
	}
	if r.stale && (code == kerr.ProducerFenced.Code || code == kerr.InvalidProducerEpoch.Code || code == kerr.InvalidProducerIDMapping.Code) {
		s.stats["stale refused"]++
	}
	if code != 0 {
		return
	}
	switch r.kind {
	case "add", "offsets":
		for _, tp := range r.parts {
			cl.acked[tp] = true
		}
	case "end":
		want := []State{PrepareAbort, CompleteAbort}
		if r.commit {
			want = []State{PrepareCommit, CompleteCommit}
		}
		rec := cl.record
		if rec == nil || rec.ProducerID != r.pid || rec.ProducerEpoch != r.epoch || !slices.Contains(want, State(rec.State)) {
			s.fail("%s: EndTxn(commit=%t) acknowledged, the log says %+v", r.id, r.commit, rec)
			return
		}
		if State(rec.State) == PrepareCommit {
			s.mustCommit[r.id] = [2]int64{r.pid, int64(r.epoch)}
			s.stats["commit acknowledged"]++
		}
	}
}

// asked checks a marker request and queues it.
func (s *sim) asked(m Markers) {
	for _, q := range s.queue {
		if q.TransactionalID == m.TransactionalID {
			s.fail("%s: markers asked for twice: %+v and %+v", m.TransactionalID, q, m)
		}
	}
	cl := s.clients[m.TransactionalID]
	rec := cl.record
	want := PrepareAbort
	if m.Commit {
		want = PrepareCommit
	}
	if rec == nil || rec.ProducerID != m.ProducerID || rec.ProducerEpoch != m.ProducerEpoch || State(rec.State) != want {
		s.fail("%s: markers %+v, the log says %+v", m.TransactionalID, m, rec)
	}
	got := map[TopicPartition]bool{}
	for _, tp := range m.Partitions {
		got[tp] = true
		if !cl.sent[tp] {
			s.fail("%s: marker for %v, which was never added", m.TransactionalID, tp)
		}
	}
	for tp := range cl.acked {
		if !got[tp] {
			s.fail("%s: no marker for %v, whose addition was acknowledged", m.TransactionalID, tp)
		}
	}
	if len(m.Partitions) == 0 {
		s.fail("%s: markers for no partition", m.TransactionalID)
	}
	s.queue = append(s.queue, m)
}

// crash rebuilds the coordinator from the durable log.
func (s *sim) crash(compare bool) {
	s.pending = nil
	s.queue = nil
	before := s.c.Transactions()
	c, err := New(s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range s.log {
		if err := c.Restore(r.Key, r.Value); err != nil {
			s.t.Fatalf("step %d: restore: %v", s.steps, err)
		}
	}
	s.c = c
	if compare {
		after := s.c.Transactions()
		for _, ds := range [][]Description{before, after} {
			for i := range ds {
				ds[i].Groups = nil
				ds[i].Start = ds[i].Start.Truncate(time.Millisecond).UTC()
				ds[i].LastUpdate = ds[i].LastUpdate.Truncate(time.Millisecond).UTC()
			}
		}
		if !reflect.DeepEqual(before, after) {
			s.fail("restored state differs:\nbefore %+v\nafter  %+v", before, after)
		}
	}
	out := s.c.Recover(s.now)
	s.stats["crash"]++
	s.stats["markers asked again after a crash"] += len(out.Markers)
	s.pending = &out
	s.commitPending(true)
}

// check runs the per-step invariants that need no history.
func (s *sim) check() {
	if err := s.c.checkInvariants(); err != nil {
		s.fail("invariant: %v", err)
	}
	for _, id := range simIDs {
		d, ok := s.c.Transaction(id)
		for _, tp := range append(simTopics, TopicPartition{OffsetsTopic, 0}) {
			in := ok && d.State == Ongoing && slices.Contains(d.Partitions, tp)
			if got := ok && s.c.IsPartitionInTxn(d.ProducerID, d.ProducerEpoch, tp.Topic, tp.Partition); got != in {
				s.fail("%s: IsPartitionInTxn(%v) = %t in %+v", id, tp, got, d)
			}
			if ok && s.c.IsPartitionInTxn(d.ProducerID, d.ProducerEpoch-1, tp.Topic, tp.Partition) {
				s.fail("%s: IsPartitionInTxn true for an older epoch", id)
			}
		}
	}
}

// drain writes every marker asked for, restarts, and writes them again,
// after which every acknowledged commit must be complete and no
// transaction half-ended.
func (s *sim) drain() {
	for round := range 2 {
		s.commitPending(true)
		for len(s.queue) > 0 {
			m := s.queue[0]
			s.queue = s.queue[1:]
			out := s.c.MarkersWritten(s.now, m.TransactionalID, m.ProducerID, m.ProducerEpoch)
			s.pending = &out
			s.commitPending(true)
		}
		if round == 0 {
			s.crash(true)
		}
	}
	s.check()
	if len(s.mustCommit) > 0 {
		s.fail("acknowledged commits never completed: %v", s.mustCommit)
	}
	for _, d := range s.c.Transactions() {
		if d.State == PrepareCommit || d.State == PrepareAbort {
			s.fail("%s left in %s", d.TransactionalID, d.State)
		}
	}
}
