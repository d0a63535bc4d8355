package group

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as DescribeGroups and ListGroups
// name it.
type State int8

const (
	// Empty: no members. A group is Empty when created, when its last
	// member leaves, or when it only holds committed offsets.
	Empty State = iota
	// PreparingRebalance: waiting for the members to (re)join.
	PreparingRebalance
	// CompletingRebalance: the new generation exists; waiting for the
	// leader's SyncGroup with the assignments.
	CompletingRebalance
	// Stable: the leader's assignments were handed out.
	Stable
	// Dead: the group does not exist (only reported by DescribeGroups).
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// ParseState parses a state name case-insensitively, as ListGroups
// filters do.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return State(i), true
		}
	}
	return 0, false
}

const consumerProtocolType = "consumer"

type group struct {
	name       string
	state      State
	prevState  State
	stateSince time.Time // when the group entered its state (zero: unknown)

	protocolType string // "" for a simple group (offsets only)
	protocol     string // selected protocol of the generation; "" when Empty
	generation   int32
	leader       string

	members []*member          // in join order; the leader falls back to the first
	byID    map[string]*member // the same members by id
	static  map[string]string  // group.instance.id -> member id
	pending map[string]*pendingMember

	protocolCount map[string]int // how many members support each protocol
	awaitingJoin  int            // members with a parked JoinGroup

	pendingSync map[string]struct{} // members of the generation that have not sent SyncGroup
	syncTimer   timer
	syncGen     int32 // the generation syncTimer was armed for

	joinTimer      timer
	initial        *initialDelay // set while joinTimer is the initial delay
	newMemberAdded bool          // a member joined during the initial delay

	// subscribed is the union of the consumer members' topics, computed
	// when a generation starts; subscribedKnown is false when it cannot be
	// (not the consumer protocol, or metadata that does not parse).
	subscribed      map[string]struct{}
	subscribedKnown bool

	offsets   map[string]map[int32]*offset
	persisted bool // a group record was written or restored
}

type initialDelay struct {
	delay     time.Duration
	remaining time.Duration
}

type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string

	protocolType     string
	protocols        []protocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration

	assignment []byte
	isNew      bool // joined in the rebalance in progress; its join times out with NewMemberJoinTimeout

	join    *parked // a JoinGroup waiting for the rebalance
	sync    *parked // a SyncGroup waiting for the leader's
	session timer
}

type protocol struct {
	name     string
	metadata []byte
}

// parked is a request answered later.
type parked struct {
	to      ReplyTo
	version int16
}

// pendingMember is a KIP-394 member id handed out with MEMBER_ID_REQUIRED
// and not used yet.
type pendingMember struct {
	id      string
	session timer
}

type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  time.Time
	expireTime  time.Time // zero: retention applies
	pos         uint64    // log position of its record (see Coordinator.pos)
}

func (m *member) metadata(proto string) []byte {
	for _, p := range m.protocols {
		if p.name == proto {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether m's protocols are exactly these, in order.
func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

func protocolsEqual(a, b []protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || !bytes.Equal(a[i].metadata, b[i].metadata) {
			return false
		}
	}
	return true
}

func copyProtocols(ps []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, len(ps))
	for i, p := range ps {
		out[i] = protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

func (g *group) countProtocols(m *member, delta int) {
	if g.protocolCount == nil {
		g.protocolCount = make(map[string]int)
	}
	for _, p := range m.protocols {
		g.protocolCount[p.name] += delta
		if g.protocolCount[p.name] == 0 {
			delete(g.protocolCount, p.name)
		}
	}
}

// supportsProtocols is Kafka's check that a joining member fits: any
// non-empty protocol list fits an Empty group; otherwise the protocol type
// must be the group's and one of the protocols supported by every member.
func (g *group) supportsProtocols(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.protocolCount[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol is Kafka's vote: among the protocols every member
// supports, each member votes for the first it lists, and the most votes
// win. Ties (unordered in Kafka) go to the protocol the earliest member
// lists first.
func (g *group) selectProtocol() string {
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.protocolCount[p.name] == len(g.members) {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range g.members[0].protocols {
		if v := votes[p.name]; v > bestVotes {
			best, bestVotes = p.name, v
		}
	}
	return best
}

// validateMember is Kafka's check of a request's member and instance ids:
// an instance id must map to the member id (FENCED_INSTANCE_ID if it maps
// to another, UNKNOWN_MEMBER_ID if to none), and the member must exist.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		known, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if known != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	if g.byID[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (g *group) hasAllMembersJoined() bool {
	return len(g.members) == g.awaitingJoin && len(g.pending) == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members = append(g.members, m)
	g.byID[m.id] = m
	g.countProtocols(m, 1)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
}

// computeSubscribed collects the topics of the consumer members' metadata
// for the selected protocol, as Kafka does when a generation starts.
func (g *group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != consumerProtocolType {
		return
	}
	topics := make(map[string]struct{})
	if len(g.members) > 0 {
		if g.protocol == "" {
			return
		}
		for _, m := range g.members {
			var meta kmsg.ConsumerMemberMetadata
			if err := meta.ReadFrom(m.metadata(g.protocol)); err != nil {
				return
			}
			for _, t := range meta.Topics {
				topics[t] = struct{}{}
			}
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// isSubscribed reports whether the group consumes topic; when the
// subscriptions are unknown, a consumer group is assumed to.
func (g *group) isSubscribed(topic string) bool {
	if !g.subscribedKnown {
		return g.protocolType == consumerProtocolType && len(g.members) > 0
	}
	_, ok := g.subscribed[topic]
	return ok
}

// joinMembers is the member list the leader receives.
func (g *group) joinMembers() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, m := range g.members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadata(g.protocol)
		out = append(out, jm)
	}
	return out
}

/////////////////////////////
// The rebalance machinery //
/////////////////////////////

func (c *Coordinator) transition(g *group, s State) {
	g.prevState, g.state = g.state, s
	g.stateSince = c.now
}

// parkJoin makes p the member's pending JoinGroup. A JoinGroup it already
// had parked is superseded and answered REBALANCE_IN_PROGRESS, so that it
// too gets exactly one reply (Kafka drops it silently).
func (c *Coordinator) parkJoin(g *group, m *member, p *parked) {
	if m.join != nil {
		resp := joinResponse(m.join.version)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		resp.MemberID = m.id
		c.reply(m.join.to, resp)
	} else {
		g.awaitingJoin++
	}
	m.join = p
}

// answerJoin sends the member's parked JoinGroup its response.
func (c *Coordinator) answerJoin(g *group, m *member, resp *kmsg.JoinGroupResponse) {
	resp.Version = m.join.version
	c.reply(m.join.to, resp)
	m.join = nil
	g.awaitingJoin--
}

// answerSync sends the member's parked SyncGroup its response.
func (c *Coordinator) answerSync(m *member, resp *kmsg.SyncGroupResponse) {
	resp.Version = m.sync.version
	c.reply(m.sync.to, resp)
	m.sync = nil
}

// currentJoinResponse describes the current generation to member m; the
// leader also gets every member's metadata if withMembers.
func (g *group) currentJoinResponse(m *member, withMembers bool) *kmsg.JoinGroupResponse {
	resp := joinResponse(0)
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if withMembers && g.leader == m.id {
		resp.Members = g.joinMembers()
	}
	return resp
}

// maybePrepareRebalanceOrCompleteJoin starts a rebalance if the group can
// start one, or else completes the one in progress if it can be.
func (c *Coordinator) maybePrepareRebalanceOrCompleteJoin(g *group) {
	switch g.state {
	case Empty, Stable, CompletingRebalance:
		c.prepareRebalance(g)
	default:
		c.maybeCompleteJoin(g)
	}
}

// maybeCompleteJoin completes the join phase once every member has
// rejoined and no KIP-394 member id is outstanding, except during an
// initial rebalance, which always waits for its delay.
func (c *Coordinator) maybeCompleteJoin(g *group) {
	if g.state == PreparingRebalance && g.prevState != Empty && g.hasAllMembersJoined() {
		c.completeJoin(g)
	}
}

// prepareRebalance moves g to PreparingRebalance. Members waiting in
// SyncGroup are told REBALANCE_IN_PROGRESS and the assignments are cleared.
// An Empty group waits the initial rebalance delay; any other waits for its
// members up to the rebalance timeout.
func (c *Coordinator) prepareRebalance(g *group) {
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				resp := syncResponse(0)
				resp.ErrorCode = kerr.RebalanceInProgress.Code
				c.answerSync(m, resp)
				c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
			}
		}
	}
	c.disarm(&g.syncTimer)
	clear(g.pendingSync)

	initial := g.state == Empty
	c.transition(g, PreparingRebalance)
	if initial {
		delay := c.cfg.InitialRebalanceDelay
		if delay == 0 {
			c.completeJoin(g)
			return
		}
		g.initial = &initialDelay{delay: delay, remaining: max(g.rebalanceTimeout()-delay, 0)}
		g.newMemberAdded = false
		c.arm(&g.joinTimer, c.now.Add(delay), kindJoin, g.name, "")
		return
	}
	if g.hasAllMembersJoined() {
		c.completeJoin(g)
		return
	}
	g.initial = nil
	c.arm(&g.joinTimer, c.now.Add(g.rebalanceTimeout()), kindJoin, g.name, "")
}

// onJoinTimer ends the wait of PreparingRebalance: the initial delay is
// extended while members keep arriving (Kafka's InitialDelayedJoin), and
// otherwise the join phase completes with whoever rejoined.
func (c *Coordinator) onJoinTimer(g *group) {
	if g.state != PreparingRebalance {
		return
	}
	if in := g.initial; in != nil && g.newMemberAdded && in.remaining > 0 {
		g.newMemberAdded = false
		delay := min(c.cfg.InitialRebalanceDelay, in.remaining)
		g.initial = &initialDelay{delay: delay, remaining: max(in.remaining-in.delay, 0)}
		c.arm(&g.joinTimer, c.now.Add(delay), kindJoin, g.name, "")
		return
	}
	c.completeJoin(g)
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// removed (static ones stay until their session expires), a leader that
// did not rejoin is replaced by one that did, and the next generation
// starts. If only static members that did not rejoin are left, the phase
// waits another rebalance timeout.
func (c *Coordinator) completeJoin(g *group) {
	c.disarm(&g.joinTimer)
	g.initial, g.newMemberAdded = nil, false

	for _, m := range slices.Clone(g.members) {
		if m.join == nil && m.instanceID == nil {
			c.removeMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	if !c.electJoinedLeader(g) && len(g.members) > 0 {
		c.arm(&g.joinTimer, c.now.Add(g.rebalanceTimeout()), kindJoin, g.name, "")
		return
	}

	g.generation++
	clear(g.pendingSync)
	if len(g.members) == 0 {
		g.protocol = ""
		g.computeSubscribed()
		c.transition(g, Empty)
		c.recordGroup(g)
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	c.transition(g, CompletingRebalance)
	for _, m := range g.members {
		if m.join != nil {
			c.answerJoin(g, m, g.currentJoinResponse(m, true))
		}
		c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
		m.isNew = false
		g.pendingSync[m.id] = struct{}{}
	}
	g.syncGen = g.generation
	c.arm(&g.syncTimer, c.now.Add(g.rebalanceTimeout()), kindSync, g.name, "")
}

// electJoinedLeader keeps the leader if it rejoined, or else picks the
// first member that did; false if none did.
func (c *Coordinator) electJoinedLeader(g *group) bool {
	if l := g.byID[g.leader]; l == nil {
		return false
	} else if l.join != nil {
		return true
	}
	for _, m := range g.members {
		if m.join != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// onSyncTimer removes the members of the generation that never sent
// SyncGroup within the rebalance timeout, and rebalances.
func (c *Coordinator) onSyncTimer(g *group) {
	if g.syncGen != g.generation || (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
		return
	}
	for _, m := range slices.Clone(g.members) {
		if _, ok := g.pendingSync[m.id]; ok {
			c.removeMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	c.prepareRebalance(g)
}

// onSessionExpired removes a member whose session timed out. A member
// waiting in JoinGroup or SyncGroup is alive by definition (its timer is
// re-armed when it is answered), unless it is new: a new member's first
// JoinGroup may only wait NewMemberJoinTimeout.
func (c *Coordinator) onSessionExpired(g *group, m *member) {
	if !m.isNew && (m.join != nil || m.sync != nil) {
		return
	}
	c.removeMemberAndRebalance(g, m)
}

// onPendingExpired forgets a KIP-394 member id that was not used within
// the session timeout.
func (c *Coordinator) onPendingExpired(g *group, id string) {
	delete(g.pending, id)
	c.maybeCompleteJoin(g)
}

// removeMemberAndRebalance removes m and lets the group react.
func (c *Coordinator) removeMemberAndRebalance(g *group, m *member) {
	c.removeMember(g, m, kerr.UnknownMemberID.Code)
	c.rebalanceAfterRemoval(g)
}

func (c *Coordinator) rebalanceAfterRemoval(g *group) {
	switch g.state {
	case Stable, CompletingRebalance:
		c.maybePrepareRebalanceOrCompleteJoin(g)
	case PreparingRebalance:
		c.maybeCompleteJoin(g)
	}
}

// removeMember takes m out of g. Its parked JoinGroup or SyncGroup, if
// any, is answered with code (Kafka answers a parked JoinGroup
// UNKNOWN_MEMBER_ID and drops a parked SyncGroup; here every parked request
// gets a reply). It does not rebalance.
func (c *Coordinator) removeMember(g *group, m *member, code int16) {
	if m.join != nil {
		resp := joinResponse(0)
		resp.ErrorCode = code
		if code == kerr.FencedInstanceID.Code {
			resp.MemberID = m.id
		}
		c.answerJoin(g, m, resp)
	}
	if m.sync != nil {
		resp := syncResponse(0)
		resp.ErrorCode = code
		c.answerSync(m, resp)
	}
	c.disarm(&m.session)
	g.countProtocols(m, -1)
	delete(g.byID, m.id)
	for i, x := range g.members {
		if x == m {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if len(g.members) > 0 {
			g.leader = g.members[0].id
		}
	}
	delete(g.pendingSync, m.id)
}

func joinResponse(version int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	return r
}

func syncResponse(version int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	return r
}
