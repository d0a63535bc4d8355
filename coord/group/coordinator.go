package group

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/coord/internal/deadline"
)

// ReplyTo is the caller's token for a request: whatever the broker needs
// to route the response (a connection and correlation id, a channel, a
// request number). The coordinator only copies it into Reply.To.
type ReplyTo any

// Client describes who sent a JoinGroup: the client.id of the request
// header and the client's address as Kafka shows it (for example
// "/10.0.0.7"). DescribeGroups reports both.
type Client struct {
	ID   string
	Host string
}

// Record is one record for __consumer_offsets. Value nil is a tombstone.
//
// ProducerID is -1 for an ordinary record. A record of a transactional
// offset commit (TxnOffsetCommit) has the id and epoch of the producer
// whose transaction it belongs to: the caller must append it in a
// transactional batch of that producer (attributes with the transactional
// bit, that producer id and epoch, base sequence -1, as Kafka writes
// TxnOffsetCommit records), so that the producer's commit or abort marker
// on __consumer_offsets settles it, and replay hands it to
// RestoreTxnRecord. Records are appended in Output order; consecutive
// records of the same producer and epoch may share a batch, records of
// different producers (or ordinary ones) may not.
type Record struct {
	Key           []byte
	Value         []byte
	ProducerID    int64
	ProducerEpoch int16
}

// Reply is a response for the request whose token was To.
type Reply struct {
	To       ReplyTo
	Response kmsg.Response
}

// Output is what one call asks of the caller: append Records durably, in
// order, then send Replies. Either may be empty.
type Output struct {
	Records []Record
	Replies []Reply
}

// Coordinator holds every classic group and its committed offsets. It is
// not safe for concurrent use. Create it with New.
type Coordinator struct {
	cfg    Config
	groups map[string]*group

	now     time.Time // the time of the call in progress (never decreases)
	started bool      // a call with a time has been made; Restore is over
	out     Output    // accumulates during a call

	timers  deadline.Queue[timerKey]
	cleanup timer // the offset-retention sweep

	// pos numbers the records of __consumer_offsets in log order: those
	// restored, then those written. Offsets remember the position of
	// their record, which decides whether a committed transaction's offset
	// replaces the committed one (see CompleteTransaction).
	pos uint64

	// txnOffsets are the offsets of open transactions, by producer id,
	// group, topic and partition; txnGroups lists, by group, the producers
	// with pending offsets in it. Neither holds empty maps.
	txnOffsets map[int64]map[string]map[string]map[int32]*offset
	txnGroups  map[string]map[int64]struct{}
}

// New returns an empty Coordinator. It fails with an error wrapping
// ErrInvalidConfig if cfg is not usable.
func New(cfg Config) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Coordinator{
		cfg:        cfg,
		groups:     make(map[string]*group),
		txnOffsets: make(map[int64]map[string]map[string]map[int32]*offset),
		txnGroups:  make(map[string]map[int64]struct{}),
	}, nil
}

// APIVersion is a Kafka API the Coordinator serves, and the versions of it
// it serves.
type APIVersion struct {
	Key      kmsg.Key
	Min, Max int16
}

// APIVersions lists the APIs and versions the Coordinator serves, for the
// broker to register and advertise in ApiVersions. (OffsetCommit and
// OffsetFetch v10 name topics by id, which the coordinator does not know.)
func APIVersions() []APIVersion {
	return []APIVersion{
		{kmsg.OffsetCommit, 0, 9},
		{kmsg.OffsetFetch, 0, 9},
		{kmsg.JoinGroup, 0, 9},
		{kmsg.Heartbeat, 0, 4},
		{kmsg.LeaveGroup, 0, 5},
		{kmsg.SyncGroup, 0, 5},
		{kmsg.DescribeGroups, 0, 5},
		{kmsg.ListGroups, 0, 5},
		{kmsg.DeleteGroups, 0, 2},
		{kmsg.OffsetDelete, 0, 0},
		{kmsg.TxnOffsetCommit, 0, 4},
	}
}

// Handle routes any request this package serves to its method and reports
// whether it did. client only matters for JoinGroup. (Transactions are
// completed with CompleteTransaction, which is not a request.)
func (c *Coordinator) Handle(now time.Time, client Client, req kmsg.Request, to ReplyTo) (Output, bool) {
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		return c.JoinGroup(now, client, r, to), true
	case *kmsg.SyncGroupRequest:
		return c.SyncGroup(now, r, to), true
	case *kmsg.HeartbeatRequest:
		return c.Heartbeat(now, r, to), true
	case *kmsg.LeaveGroupRequest:
		return c.LeaveGroup(now, r, to), true
	case *kmsg.OffsetCommitRequest:
		return c.OffsetCommit(now, r, to), true
	case *kmsg.OffsetFetchRequest:
		return c.OffsetFetch(now, r, to), true
	case *kmsg.DescribeGroupsRequest:
		return c.DescribeGroups(now, r, to), true
	case *kmsg.ListGroupsRequest:
		return c.ListGroups(now, r, to), true
	case *kmsg.DeleteGroupsRequest:
		return c.DeleteGroups(now, r, to), true
	case *kmsg.OffsetDeleteRequest:
		return c.OffsetDelete(now, r, to), true
	case *kmsg.TxnOffsetCommitRequest:
		return c.TxnOffsetCommit(now, r, to), true
	}
	return Output{}, false
}

// Tick fires every deadline at or before now: members whose session
// expired are removed (answering what they had parked), rebalances whose
// timeout or initial delay passed complete, members that did not send
// SyncGroup in time are removed, KIP-394 member ids that were not used in
// time are forgotten, and the offset-retention sweep runs. Replies to
// requests parked earlier appear in the returned Output.
//
// Every request method does the same before it serves its request, so the
// outcome never depends on how punctually Tick is called; Tick is for when
// no request comes. Each deadline fires as if at that very time: what it
// does is timestamped, and the deadlines it arms are counted, from the
// deadline itself.
func (c *Coordinator) Tick(now time.Time) Output {
	c.begin(now)
	return c.flush()
}

// NextDeadline returns when Tick next has work to do, and false if nothing
// is armed (before the first call, the offset-retention sweep is not armed
// yet).
func (c *Coordinator) NextDeadline() (time.Time, bool) {
	return c.timers.Next(c.lookup)
}

// begin starts a call at now: the first call starts the coordinator
// (restored groups get their session timers from now), and every call
// fires the deadlines that have passed, each at its own time.
func (c *Coordinator) begin(now time.Time) {
	last := c.now
	if now.After(c.now) || c.now.IsZero() {
		c.now = now
	}
	if !c.started {
		c.start()
		return
	}
	target := c.now
	for {
		k, at, ok := c.timers.PopDue(target, c.lookup)
		if !ok {
			break
		}
		if at.After(last) {
			last = at
		}
		c.now = last
		c.fire(k)
	}
	c.now = target
}

// flush hands back what the call produced.
func (c *Coordinator) flush() Output {
	out := c.out
	c.out = Output{}
	c.timers.Compact(c.lookup)
	return out
}

func (c *Coordinator) reply(to ReplyTo, resp kmsg.Response) {
	c.out.Replies = append(c.out.Replies, Reply{To: to, Response: resp})
}

// record writes an ordinary record and returns its log position.
func (c *Coordinator) record(key, value []byte) uint64 {
	return c.recordAs(key, value, -1, -1)
}

// recordAs writes a record of producer pid's transaction (pid -1: an
// ordinary record) and returns its log position.
func (c *Coordinator) recordAs(key, value []byte, pid int64, epoch int16) uint64 {
	c.out.Records = append(c.out.Records, Record{Key: key, Value: value, ProducerID: pid, ProducerEpoch: epoch})
	c.pos++
	return c.pos
}

// sortedGroups returns the groups ordered by name, for deterministic
// sweeps and listings.
func (c *Coordinator) sortedGroups() []*group {
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return gs
}

// newGroup creates an Empty group and registers it.
func (c *Coordinator) newGroup(name string) *group {
	g := &group{
		name:        name,
		state:       Empty,
		prevState:   Dead,
		stateSince:  c.now,
		byID:        make(map[string]*member),
		static:      make(map[string]string),
		pending:     make(map[string]*pendingMember),
		pendingSync: make(map[string]struct{}),
		offsets:     make(map[string]map[int32]*offset),
	}
	c.groups[name] = g
	return g
}

// dropIfUnused forgets a group that was created for a request which then
// failed, so a rejected request leaves nothing behind. A group with
// offsets pending in open transactions is in use.
func (c *Coordinator) dropIfUnused(g *group) {
	if g.state == Empty && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && !g.persisted && len(c.txnGroups[g.name]) == 0 {
		c.deleteGroup(g)
	}
}

// deleteGroup forgets g and disarms its timers. It writes nothing.
func (c *Coordinator) deleteGroup(g *group) {
	c.disarm(&g.joinTimer)
	c.disarm(&g.syncTimer)
	for _, m := range g.members {
		c.disarm(&m.session)
	}
	for _, p := range g.pending {
		c.disarm(&p.session)
	}
	g.state = Dead
	delete(c.groups, g.name)
}

// newMemberID generates an id not used in g. Should NewMemberID keep
// returning ids in use, a numeric suffix makes one unique.
func (c *Coordinator) newMemberID(g *group, prefix string) string {
	taken := func(id string) bool {
		_, member := g.byID[id]
		_, pending := g.pending[id]
		return member || pending
	}
	id := c.cfg.NewMemberID(prefix)
	for try := 0; taken(id) && try < 8; try++ {
		id = c.cfg.NewMemberID(prefix)
	}
	for n, base := 2, id; taken(id); n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}

// start arms what needs a time: the retention sweep and the session timers
// of restored members. A restored group with more members than
// MaxGroupSize rebalances, as Kafka does when it loads one.
func (c *Coordinator) start() {
	c.started = true
	c.arm(&c.cleanup, c.now.Add(c.cfg.OffsetsRetentionCheckInterval), kindCleanup, "", "")
	for _, g := range c.sortedGroups() {
		for _, m := range g.members {
			c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
		}
		if len(g.members) > c.cfg.MaxGroupSize {
			c.prepareRebalance(g)
		}
	}
}

// fire runs the work of the expired timer e.
func (c *Coordinator) fire(e timerKey) {
	if e.kind == kindCleanup {
		c.expireOffsets()
		c.arm(&c.cleanup, c.now.Add(c.cfg.OffsetsRetentionCheckInterval), kindCleanup, "", "")
		return
	}
	g := c.groups[e.group]
	switch e.kind {
	case kindJoin:
		c.onJoinTimer(g)
	case kindSync:
		c.onSyncTimer(g)
	case kindSession:
		c.onSessionExpired(g, g.byID[e.member])
	case kindPending:
		c.onPendingExpired(g, e.member)
	}
}
