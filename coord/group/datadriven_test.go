package group

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestScripts runs the interaction scripts in testdata. Run with -rewrite
// to regenerate their expected output. The commands:
//
//	config delay=0s min-session=6s max-session=30m max-size=N retention=168h
//	       retention-check=10m new-member-timeout=5m metadata-max=4096
//	                            (re)creates the coordinator; default delay=0s
//	join group=g member= instance= client=c host= type=consumer
//	     protocols=range,roundrobin topics=t,u userdata= meta= session=10s
//	     rebalance=30s v=9 as=label
//	sync group=g member= gen=N instance= type= proto= v=5
//	     assign=(member=t:0:1;u:2, member2=-, member3=raw:bytes)
//	heartbeat group=g member= gen=N instance= v=4
//	leave group=g member= v=5 members=(id, id/instance, /instance)
//	commit group=g member= gen=-1 instance= v=9 retention=1h timestamp=-5m
//	       offsets=(t:0=10, t:1=11/metadata, t:2=12/metadata/epoch)
//	fetch group=g | groups=(g,h)  v=7|8  topics=(t:0:1, u:0)  (no topics: all)
//	      stable                (RequireStable)
//	txn-commit group=g pid=1 epoch=0 v=4 member= gen=-1 instance=
//	           offsets=(t:0=10, t:1=11/metadata/epoch)
//	                            TxnOffsetCommit; its records are written
//	                            in producer pid's transaction
//	end-txn pid=1 commit|abort  the producer's marker on __consumer_offsets:
//	                            CompleteTransaction, logged for restore
//	describe groups=(g,h) v=5
//	list states=(Stable) types=(classic) v=5
//	delete groups=(g,h)
//	offset-delete group=g topics=(t:0:1)
//	tick +5s                    advances the clock and calls Tick
//	restore                     a crash: rebuilds the coordinator from every
//	                            record written so far, then Ticks
//	state [group=g]             the coordinator's internals, with timers
//	view group=g                the Group, Offsets and PendingOffsets
//	                            accessors
//	deadline                    NextDeadline
//
// Every request gets a label (as=, or r1, r2, ...), shown with its reply.
// Each command prints the records written (decoded), the replies, and a
// summary of the groups it touched.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t, DefaultConfig())
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			h.t = t
			return h.run(td)
		})
	})
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// logEntry is a record, or a producer's transaction marker.
type logEntry struct {
	rec    Record
	marker bool
	pid    int64
	commit bool
}

type harness struct {
	t      *testing.T
	cfg    Config
	c      *Coordinator
	now    time.Time
	log    []logEntry        // __consumer_offsets as written
	ids    int               // member ids handed out
	reqs   int               // requests sent
	parked map[string]string // label -> request kind, for requests not answered yet
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, now: t0, parked: make(map[string]string)}
	cfg.InitialRebalanceDelay = 0
	h.setConfig(cfg)
	return h
}

func (h *harness) setConfig(cfg Config) {
	cfg.NewMemberID = func(prefix string) string {
		h.ids++
		return fmt.Sprintf("%s-%d", prefix, h.ids)
	}
	c, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.cfg, h.c = cfg, c
}

func (h *harness) run(td *datadriven.TestData) string {
	var b strings.Builder
	var touched []string
	switch td.Cmd {
	case "config":
		cfg := h.cfg
		for _, a := range td.CmdArgs {
			v := a.Vals[0]
			switch a.Key {
			case "delay":
				cfg.InitialRebalanceDelay = dur(td, v)
			case "min-session":
				cfg.MinSessionTimeout = dur(td, v)
			case "max-session":
				cfg.MaxSessionTimeout = dur(td, v)
			case "max-size":
				cfg.MaxGroupSize = atoi(td, v)
			case "retention":
				cfg.OffsetsRetention = dur(td, v)
			case "retention-check":
				cfg.OffsetsRetentionCheckInterval = dur(td, v)
			case "new-member-timeout":
				cfg.NewMemberJoinTimeout = dur(td, v)
			case "metadata-max":
				cfg.MaxOffsetMetadataBytes = atoi(td, v)
			default:
				td.Fatalf(h.t, "unknown config %s", a.Key)
			}
		}
		h.setConfig(cfg)
		return "ok"

	case "tick":
		if len(td.CmdArgs) != 1 {
			td.Fatalf(h.t, "tick +duration")
		}
		h.now = h.now.Add(dur(td, strings.TrimPrefix(td.CmdArgs[0].Key, "+")))
		fmt.Fprintf(&b, "now %s\n", fmtTime(h.now))
		h.output(&b, h.c.Tick(h.now))
		touched = h.allGroups()

	case "restore":
		var lost []string
		for label := range h.parked {
			lost = append(lost, label)
		}
		sort.Strings(lost)
		clear(h.parked)
		if len(lost) > 0 {
			fmt.Fprintf(&b, "connections lost: %s\n", strings.Join(lost, " "))
		}
		h.setConfig(h.cfg)
		markers := 0
		for _, e := range h.log {
			var err error
			if e.marker {
				markers++
				err = h.c.RestoreMarker(e.pid, e.commit)
			} else {
				err = h.c.RestoreRecord(e.rec)
			}
			if err != nil {
				td.Fatalf(h.t, "restore: %v", err)
			}
		}
		if markers > 0 {
			fmt.Fprintf(&b, "replayed %d records and %d markers\n", len(h.log)-markers, markers)
		} else {
			fmt.Fprintf(&b, "replayed %d records\n", len(h.log))
		}
		h.output(&b, h.c.Tick(h.now))
		touched = h.allGroups()

	case "state":
		names := h.allGroups()
		if g, ok := td.Arg("group"); ok {
			names = []string{g.Vals[0]}
		}
		for _, name := range names {
			b.WriteString(h.state(name))
		}
		return b.String()

	case "view":
		name := h.str(td, "group", "g")
		d, ok := h.c.Group(name)
		if !ok {
			return "no group"
		}
		fmt.Fprintf(&b, "%s %s type=%q proto=%q gen=%d leader=%s pending-ids=%d\n", d.Group, d.State, d.ProtocolType, d.Protocol, d.Generation, d.Leader, d.PendingMemberIDs)
		for _, m := range d.Members {
			fmt.Fprintf(&b, "  %s instance=%q client=%s host=%s session=%s rebalance=%s protocols=%s meta=%s assign=%s joining=%t syncing=%t\n",
				m.MemberID, m.InstanceID, m.ClientID, m.ClientHost, m.SessionTimeout, m.RebalanceTimeout,
				strings.Join(m.Protocols, ","), fmtMeta(m.Metadata), fmtAssignment(m.Assignment), m.Joining, m.Syncing)
		}
		for _, o := range h.c.Offsets(name) {
			fmt.Fprintf(&b, "  offset %s:%d=%d epoch=%d md=%q commit=%s", o.Topic, o.Partition, o.Offset, o.LeaderEpoch, o.Metadata, fmtTime(o.CommitTime))
			if !o.ExpireTime.IsZero() {
				fmt.Fprintf(&b, " expire=%s", fmtTime(o.ExpireTime))
			}
			b.WriteString("\n")
		}
		for _, o := range h.c.PendingOffsets(name) {
			fmt.Fprintf(&b, "  pending pid=%d %s:%d=%d epoch=%d md=%q commit=%s\n", o.ProducerID, o.Topic, o.Partition, o.Offset, o.LeaderEpoch, o.Metadata, fmtTime(o.CommitTime))
		}
		return b.String()

	case "end-txn":
		pid := int64(h.int(td, "pid", 1))
		commit := td.HasArg("commit")
		if commit == td.HasArg("abort") {
			td.Fatalf(h.t, "end-txn pid=N commit|abort")
		}
		h.log = append(h.log, logEntry{marker: true, pid: pid, commit: commit})
		word := "abort"
		if commit {
			word = "commit"
		}
		fmt.Fprintf(&b, "marker %s pid=%d\n", word, pid)
		h.output(&b, h.c.CompleteTransaction(h.now, pid, commit))
		touched = h.allGroups()

	case "deadline":
		if at, ok := h.c.NextDeadline(); ok {
			return fmtTime(at)
		}
		return "none"

	default:
		req, name := h.request(td)
		label := h.str(td, "as", "")
		if label == "" {
			h.reqs++
			label = fmt.Sprintf("r%d", h.reqs)
		}
		if _, dup := h.parked[label]; dup {
			td.Fatalf(h.t, "label %s is still waiting for its reply", label)
		}
		h.parked[label] = td.Cmd
		out, ok := h.c.Handle(h.now, Client{ID: h.str(td, "client", "c"), Host: h.str(td, "host", "/127.0.0.1")}, req, label)
		if !ok {
			td.Fatalf(h.t, "not handled")
		}
		h.output(&b, out)
		if _, still := h.parked[label]; still {
			fmt.Fprintf(&b, "%s: parked\n", label)
		}
		touched = name
	}
	for _, name := range touched {
		b.WriteString(h.summary(name))
	}
	if err := h.c.checkInvariants(); err != nil {
		h.t.Errorf("%s: invariant: %v", td.Pos, err)
	}
	return b.String()
}

// request builds the kmsg request of a command, and names the groups it
// concerns.
func (h *harness) request(td *datadriven.TestData) (kmsg.Request, []string) {
	group := h.str(td, "group", "g")
	switch td.Cmd {
	case "join":
		r := kmsg.NewPtrJoinGroupRequest()
		r.Version = int16(h.int(td, "v", 9))
		r.Group = group
		r.MemberID = h.str(td, "member", "")
		r.InstanceID = h.optStr(td, "instance")
		r.ProtocolType = h.str(td, "type", "consumer")
		r.SessionTimeoutMillis = int32(h.dur(td, "session", 10*time.Second) / time.Millisecond)
		r.RebalanceTimeoutMillis = int32(h.dur(td, "rebalance", 30*time.Second) / time.Millisecond)
		var meta []byte
		if m, ok := td.Arg("meta"); ok {
			meta = []byte(m.Vals[0])
		} else {
			cm := kmsg.NewConsumerMemberMetadata()
			cm.Topics = splitList(h.str(td, "topics", "t"))
			if ud := h.str(td, "userdata", ""); ud != "" {
				cm.UserData = []byte(ud)
			}
			meta = cm.AppendTo(nil)
		}
		for _, name := range splitList(h.str(td, "protocols", "range")) {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: name, Metadata: meta})
		}
		return r, []string{group}
	case "sync":
		r := kmsg.NewPtrSyncGroupRequest()
		r.Version = int16(h.int(td, "v", 5))
		r.Group = group
		r.MemberID = h.str(td, "member", "")
		r.Generation = int32(h.int(td, "gen", -1))
		r.InstanceID = h.optStr(td, "instance")
		r.ProtocolType = h.optStr(td, "type")
		r.Protocol = h.optStr(td, "proto")
		if a, ok := td.Arg("assign"); ok {
			for _, v := range a.Vals {
				id, plan, ok := strings.Cut(v, "=")
				if !ok {
					td.Fatalf(h.t, "assign: member=plan")
				}
				r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: parseAssignment(td, h.t, plan)})
			}
		}
		return r, []string{group}
	case "heartbeat":
		r := kmsg.NewPtrHeartbeatRequest()
		r.Version = int16(h.int(td, "v", 4))
		r.Group = group
		r.MemberID = h.str(td, "member", "")
		r.Generation = int32(h.int(td, "gen", -1))
		r.InstanceID = h.optStr(td, "instance")
		return r, []string{group}
	case "leave":
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Version = int16(h.int(td, "v", 5))
		r.Group = group
		r.MemberID = h.str(td, "member", "")
		if a, ok := td.Arg("members"); ok {
			for _, v := range a.Vals {
				id, inst, hasInst := strings.Cut(v, "/")
				m := kmsg.NewLeaveGroupRequestMember()
				m.MemberID = id
				if hasInst {
					m.InstanceID = kmsg.StringPtr(inst)
				}
				r.Members = append(r.Members, m)
			}
		}
		return r, []string{group}
	case "commit":
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = int16(h.int(td, "v", 9))
		r.Group = group
		r.MemberID = h.str(td, "member", "")
		r.Generation = int32(h.int(td, "gen", -1))
		r.InstanceID = h.optStr(td, "instance")
		if td.HasArg("retention") {
			r.RetentionTimeMillis = int64(h.dur(td, "retention", 0) / time.Millisecond)
		}
		var topics []string
		byTopic := map[string][]kmsg.OffsetCommitRequestTopicPartition{}
		if a, ok := td.Arg("offsets"); ok {
			for _, v := range a.Vals {
				tp, rest, _ := strings.Cut(v, "=")
				topic, part := splitTP(td, h.t, tp)
				fields := strings.Split(rest, "/")
				p := kmsg.NewOffsetCommitRequestTopicPartition()
				p.Partition = part
				p.Offset = int64(atoi(td, fields[0]))
				if len(fields) > 1 {
					p.Metadata = kmsg.StringPtr(fields[1])
				}
				if len(fields) > 2 {
					p.LeaderEpoch = int32(atoi(td, fields[2]))
				}
				if td.HasArg("timestamp") { // relative to now
					p.Timestamp = h.now.Add(h.dur(td, "timestamp", 0)).UnixMilli()
				}
				if _, ok := byTopic[topic]; !ok {
					topics = append(topics, topic)
				}
				byTopic[topic] = append(byTopic[topic], p)
			}
		}
		for _, topic := range topics {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rt.Partitions = byTopic[topic]
			r.Topics = append(r.Topics, rt)
		}
		return r, []string{group}
	case "fetch":
		r := kmsg.NewPtrOffsetFetchRequest()
		var topics []kmsg.OffsetFetchRequestTopic
		if a, ok := td.Arg("topics"); ok {
			for _, v := range a.Vals {
				fields := strings.Split(v, ":")
				t := kmsg.NewOffsetFetchRequestTopic()
				t.Topic = fields[0]
				for _, p := range fields[1:] {
					t.Partitions = append(t.Partitions, int32(atoi(td, p)))
				}
				topics = append(topics, t)
			}
		}
		if a, ok := td.Arg("groups"); ok {
			r.Version = int16(h.int(td, "v", 8))
			for _, name := range a.Vals {
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = name
				if topics != nil {
					rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
				}
				for _, t := range topics {
					rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
				r.Groups = append(r.Groups, rg)
			}
			r.RequireStable = td.HasArg("stable")
			return r, a.Vals
		}
		r.Version = int16(h.int(td, "v", 7))
		r.Group = group
		r.Topics = topics
		r.RequireStable = td.HasArg("stable")
		return r, nil
	case "txn-commit":
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.Version = int16(h.int(td, "v", 4))
		r.TransactionalID = "tx"
		r.Group = group
		r.ProducerID = int64(h.int(td, "pid", 1))
		r.ProducerEpoch = int16(h.int(td, "epoch", 0))
		r.MemberID = h.str(td, "member", "")
		r.Generation = int32(h.int(td, "gen", -1))
		r.InstanceID = h.optStr(td, "instance")
		var topics []string
		byTopic := map[string][]kmsg.TxnOffsetCommitRequestTopicPartition{}
		if a, ok := td.Arg("offsets"); ok {
			for _, v := range a.Vals {
				tp, rest, _ := strings.Cut(v, "=")
				topic, part := splitTP(td, h.t, tp)
				fields := strings.Split(rest, "/")
				p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				p.Partition = part
				p.Offset = int64(atoi(td, fields[0]))
				if len(fields) > 1 {
					p.Metadata = kmsg.StringPtr(fields[1])
				}
				if len(fields) > 2 {
					p.LeaderEpoch = int32(atoi(td, fields[2]))
				}
				if _, ok := byTopic[topic]; !ok {
					topics = append(topics, topic)
				}
				byTopic[topic] = append(byTopic[topic], p)
			}
		}
		for _, topic := range topics {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = topic
			rt.Partitions = byTopic[topic]
			r.Topics = append(r.Topics, rt)
		}
		return r, []string{group}
	case "describe":
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Version = int16(h.int(td, "v", 5))
		r.Groups = h.list(td, "groups", []string{group})
		return r, nil
	case "list":
		r := kmsg.NewPtrListGroupsRequest()
		r.Version = int16(h.int(td, "v", 5))
		r.StatesFilter = h.list(td, "states", nil)
		r.TypesFilter = h.list(td, "types", nil)
		return r, nil
	case "delete":
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Version = int16(h.int(td, "v", 2))
		r.Groups = h.list(td, "groups", []string{group})
		return r, r.Groups
	case "offset-delete":
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		for _, v := range h.list(td, "topics", nil) {
			fields := strings.Split(v, ":")
			t := kmsg.NewOffsetDeleteRequestTopic()
			t.Topic = fields[0]
			for _, p := range fields[1:] {
				t.Partitions = append(t.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: int32(atoi(td, p))})
			}
			r.Topics = append(r.Topics, t)
		}
		return r, []string{group}
	}
	td.Fatalf(h.t, "unknown command %s", td.Cmd)
	return nil, nil
}

// output prints what a call produced and keeps its records as the log.
func (h *harness) output(b *strings.Builder, out Output) {
	for _, r := range out.Records {
		fmt.Fprintf(b, "record %s\n", fmtRecord(r))
	}
	for _, r := range out.Records {
		h.log = append(h.log, logEntry{rec: r})
	}
	for _, r := range out.Replies {
		label := r.To.(string)
		if _, ok := h.parked[label]; !ok {
			h.t.Errorf("reply to %s, which has no request waiting", label)
		}
		delete(h.parked, label)
		fmt.Fprintf(b, "%s: %s\n", label, fmtResponse(r.Response))
	}
}

func (h *harness) allGroups() []string {
	var names []string
	for _, g := range h.c.sortedGroups() {
		names = append(names, g.name)
	}
	return names
}

// summary is one line about a group.
func (h *harness) summary(name string) string {
	g := h.c.groups[name]
	if g == nil {
		return fmt.Sprintf("group %s: none\n", name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "group %s: %s gen=%d", name, g.state, g.generation)
	if g.protocolType != "" || g.protocol != "" {
		fmt.Fprintf(&b, " proto=%s/%s", g.protocolType, g.protocol)
	}
	if g.leader != "" {
		fmt.Fprintf(&b, " leader=%s", g.leader)
	}
	var ms []string
	for _, m := range g.members {
		s := m.id
		if m.join != nil {
			s += "+join"
		}
		if m.sync != nil {
			s += "+sync"
		}
		ms = append(ms, s)
	}
	fmt.Fprintf(&b, " members=[%s]", strings.Join(ms, " "))
	if len(g.pending) > 0 {
		fmt.Fprintf(&b, " pending=[%s]", strings.Join(sortedKeys(g.pending), " "))
	}
	if pids := h.c.txnProducers(name); len(pids) > 0 {
		fmt.Fprintf(&b, " txns=%v", pids)
	}
	b.WriteString("\n")
	return b.String()
}

// state prints a group's internals and timers.
func (h *harness) state(name string) string {
	g := h.c.groups[name]
	if g == nil {
		return fmt.Sprintf("group %s: none\n", name)
	}
	var b strings.Builder
	b.WriteString(h.summary(name))
	at := func(t timer) string {
		if !t.Armed() {
			return "-"
		}
		return fmtTime(t.At)
	}
	fmt.Fprintf(&b, "  since=%s join-timer=%s sync-timer=%s", fmtTime(g.stateSince), at(g.joinTimer), at(g.syncTimer))
	if g.initial != nil {
		fmt.Fprintf(&b, " initial-delay=%s remaining=%s", g.initial.delay, g.initial.remaining)
	}
	if len(g.pendingSync) > 0 {
		fmt.Fprintf(&b, " pending-sync=[%s]", strings.Join(sortedKeys(g.pendingSync), " "))
	}
	if g.subscribedKnown {
		fmt.Fprintf(&b, " subscribed=[%s]", strings.Join(sortedKeys(g.subscribed), " "))
	}
	b.WriteString("\n")
	for _, m := range g.members {
		fmt.Fprintf(&b, "  member %s", m.id)
		if m.instanceID != nil {
			fmt.Fprintf(&b, " instance=%s", *m.instanceID)
		}
		fmt.Fprintf(&b, " session=%s/%s rebalance=%s", m.sessionTimeout, at(m.session), m.rebalanceTimeout)
		if m.isNew {
			b.WriteString(" new")
		}
		var ps []string
		for _, p := range m.protocols {
			ps = append(ps, p.name)
		}
		fmt.Fprintf(&b, " protocols=%s meta=%s assign=%s\n", strings.Join(ps, ","), fmtMeta(m.metadata(g.protocol)), fmtAssignment(m.assignment))
	}
	for _, id := range sortedKeys(g.pending) {
		fmt.Fprintf(&b, "  pending %s expires=%s\n", id, at(g.pending[id].session))
	}
	return b.String()
}

////////////////
// Formatting //
////////////////

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	if d := t.Sub(t0); d < 0 {
		return "T-" + (-d).String()
	}
	return "T+" + t.Sub(t0).String()
}

func errName(code int16) string {
	if code == 0 {
		return "ok"
	}
	if err, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return err.Message
	}
	return fmt.Sprintf("error(%d)", code)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func fmtResponse(resp kmsg.Response) string {
	var b strings.Builder
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		fmt.Fprintf(&b, "join %s", errName(r.ErrorCode))
		if r.MemberID != "" {
			fmt.Fprintf(&b, " member=%s", r.MemberID)
		}
		if r.ErrorCode == 0 {
			fmt.Fprintf(&b, " gen=%d proto=%s/%s leader=%s", r.Generation, deref(r.ProtocolType), deref(r.Protocol), r.LeaderID)
			if r.SkipAssignment {
				b.WriteString(" skip-assignment")
			}
			if r.Members != nil {
				var ms []string
				for _, m := range r.Members {
					s := m.MemberID
					if m.InstanceID != nil {
						s += "/" + *m.InstanceID
					}
					ms = append(ms, s+"("+fmtMeta(m.ProtocolMetadata)+")")
				}
				fmt.Fprintf(&b, " members=[%s]", strings.Join(ms, " "))
			}
		}
	case *kmsg.SyncGroupResponse:
		fmt.Fprintf(&b, "sync %s", errName(r.ErrorCode))
		if r.ErrorCode == 0 {
			fmt.Fprintf(&b, " proto=%s/%s assign=%s", deref(r.ProtocolType), deref(r.Protocol), fmtAssignment(r.MemberAssignment))
		}
	case *kmsg.HeartbeatResponse:
		fmt.Fprintf(&b, "heartbeat %s", errName(r.ErrorCode))
	case *kmsg.LeaveGroupResponse:
		fmt.Fprintf(&b, "leave %s", errName(r.ErrorCode))
		for _, m := range r.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id += "/" + *m.InstanceID
			}
			fmt.Fprintf(&b, " %s=%s", id, errName(m.ErrorCode))
		}
	case *kmsg.OffsetCommitResponse:
		b.WriteString("commit")
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s:%d=%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	case *kmsg.TxnOffsetCommitResponse:
		b.WriteString("txn-commit")
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s:%d=%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	case *kmsg.OffsetFetchResponse:
		b.WriteString("fetch")
		fmtTopics := func(topics []kmsg.OffsetFetchResponseTopic) {
			if len(topics) == 0 {
				b.WriteString(" (none)")
			}
			for _, t := range topics {
				for _, p := range t.Partitions {
					fmt.Fprintf(&b, " %s:%d=%d", t.Topic, p.Partition, p.Offset)
					if p.LeaderEpoch != -1 {
						fmt.Fprintf(&b, "/epoch=%d", p.LeaderEpoch)
					}
					if p.Metadata != nil && *p.Metadata != "" {
						fmt.Fprintf(&b, "/md=%q", *p.Metadata)
					}
					if p.ErrorCode != 0 {
						fmt.Fprintf(&b, "/%s", errName(p.ErrorCode))
					}
				}
			}
		}
		if r.Version >= 8 {
			for _, g := range r.Groups {
				fmt.Fprintf(&b, "\n  %s %s:", g.Group, errName(g.ErrorCode))
				var topics []kmsg.OffsetFetchResponseTopic
				for _, t := range g.Topics {
					st := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
					for _, p := range t.Partitions {
						st.Partitions = append(st.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
					}
					topics = append(topics, st)
				}
				fmtTopics(topics)
			}
		} else {
			fmt.Fprintf(&b, " %s:", errName(r.ErrorCode))
			fmtTopics(r.Topics)
		}
	case *kmsg.DescribeGroupsResponse:
		b.WriteString("describe")
		for _, g := range r.Groups {
			fmt.Fprintf(&b, "\n  %s %s state=%s type=%q proto=%q", g.Group, errName(g.ErrorCode), g.State, g.ProtocolType, g.Protocol)
			for _, m := range g.Members {
				fmt.Fprintf(&b, "\n    %s", m.MemberID)
				if m.InstanceID != nil {
					fmt.Fprintf(&b, " instance=%s", *m.InstanceID)
				}
				fmt.Fprintf(&b, " client=%s host=%s meta=%s assign=%s", m.ClientID, m.ClientHost, fmtMeta(m.ProtocolMetadata), fmtAssignment(m.MemberAssignment))
			}
		}
	case *kmsg.ListGroupsResponse:
		fmt.Fprintf(&b, "list %s:", errName(r.ErrorCode))
		if len(r.Groups) == 0 {
			b.WriteString(" (none)")
		}
		for _, g := range r.Groups {
			fmt.Fprintf(&b, " %s(%s,%q,%s)", g.Group, g.GroupState, g.ProtocolType, g.GroupType)
		}
	case *kmsg.DeleteGroupsResponse:
		b.WriteString("delete")
		for _, g := range r.Groups {
			fmt.Fprintf(&b, " %s=%s", g.Group, errName(g.ErrorCode))
		}
	case *kmsg.OffsetDeleteResponse:
		fmt.Fprintf(&b, "offset-delete %s", errName(r.ErrorCode))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s:%d=%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	default:
		fmt.Fprintf(&b, "%T", resp)
	}
	return b.String()
}

// fmtMeta shows consumer-protocol metadata as its topics (and user data),
// anything else quoted.
func fmtMeta(meta []byte) string {
	if meta == nil {
		return "nil"
	}
	var cm kmsg.ConsumerMemberMetadata
	if err := cm.ReadFrom(meta); err == nil {
		s := strings.Join(cm.Topics, ",")
		if len(cm.UserData) > 0 {
			s += "+" + string(cm.UserData)
		}
		return s
	}
	return strconv.Quote(string(meta))
}

// fmtAssignment shows a consumer-protocol assignment as topic:p:p;topic:p,
// "-" if it assigns nothing, "empty" for no bytes at all, anything else
// quoted.
func fmtAssignment(a []byte) string {
	if a == nil {
		return "nil"
	}
	if len(a) == 0 {
		return "empty"
	}
	var ca kmsg.ConsumerMemberAssignment
	if err := ca.ReadFrom(a); err != nil {
		return strconv.Quote(string(a))
	}
	if len(ca.Topics) == 0 {
		return "-"
	}
	var ts []string
	for _, t := range ca.Topics {
		s := t.Topic
		for _, p := range t.Partitions {
			s += ":" + strconv.Itoa(int(p))
		}
		ts = append(ts, s)
	}
	return strings.Join(ts, ";")
}

func parseAssignment(td *datadriven.TestData, t *testing.T, plan string) []byte {
	if raw, ok := strings.CutPrefix(plan, "raw:"); ok {
		return []byte(raw)
	}
	ca := kmsg.NewConsumerMemberAssignment()
	if plan != "-" {
		for _, tp := range strings.Split(plan, ";") {
			fields := strings.Split(tp, ":")
			at := kmsg.ConsumerMemberAssignmentTopic{Topic: fields[0]}
			for _, p := range fields[1:] {
				at.Partitions = append(at.Partitions, int32(atoi(td, p)))
			}
			ca.Topics = append(ca.Topics, at)
		}
	}
	return ca.AppendTo(nil)
}

func fmtRecord(r Record) string {
	var b strings.Builder
	if r.ProducerID >= 0 {
		fmt.Fprintf(&b, "txn pid=%d epoch=%d ", r.ProducerID, r.ProducerEpoch)
	}
	k := decodeKey(r.Key)
	switch k := k.(type) {
	case kmsg.OffsetCommitKey:
		fmt.Fprintf(&b, "offset %s %s:%d", k.Group, k.Topic, k.Partition)
		if r.Value == nil {
			b.WriteString(" tombstone")
			break
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.Value); err != nil {
			return "bad offset value: " + err.Error()
		}
		fmt.Fprintf(&b, " = %d v%d", v.Offset, v.Version)
		if v.Version >= 3 {
			fmt.Fprintf(&b, " epoch=%d", v.LeaderEpoch)
		}
		fmt.Fprintf(&b, " md=%q commit=%s", v.Metadata, fmtTime(time.UnixMilli(v.CommitTimestamp).UTC()))
		if v.Version == 1 {
			fmt.Fprintf(&b, " expire=%s", fmtTime(time.UnixMilli(v.ExpireTimestamp).UTC()))
		}
	case kmsg.GroupMetadataKey:
		fmt.Fprintf(&b, "group %s", k.Group)
		if r.Value == nil {
			b.WriteString(" tombstone")
			break
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(r.Value); err != nil {
			return "bad group value: " + err.Error()
		}
		since := "unknown"
		if v.CurrentStateTimestamp >= 0 {
			since = fmtTime(time.UnixMilli(v.CurrentStateTimestamp).UTC())
		}
		fmt.Fprintf(&b, " = gen=%d type=%q proto=%s leader=%s since=%s", v.Generation, v.ProtocolType, deref(v.Protocol), deref(v.Leader), since)
		for _, m := range v.Members {
			fmt.Fprintf(&b, "\n  member %s", m.MemberID)
			if m.InstanceID != nil {
				fmt.Fprintf(&b, " instance=%s", *m.InstanceID)
			}
			fmt.Fprintf(&b, " client=%s host=%s session=%dms rebalance=%dms meta=%s assign=%s",
				m.ClientID, m.ClientHost, m.SessionTimeoutMillis, m.RebalanceTimeoutMillis, fmtMeta(m.Subscription), fmtAssignment(m.Assignment))
		}
	default:
		return fmt.Sprintf("unknown key %x", r.Key)
	}
	return b.String()
}

func decodeKey(key []byte) any {
	if len(key) < 2 {
		return nil
	}
	switch key[1] {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if k.ReadFrom(key) == nil {
			return k
		}
	case 2:
		var k kmsg.GroupMetadataKey
		if k.ReadFrom(key) == nil {
			return k
		}
	}
	return nil
}

///////////////
// Arguments //
///////////////

func (h *harness) str(td *datadriven.TestData, key, def string) string {
	if a, ok := td.Arg(key); ok {
		return a.Vals[0]
	}
	return def
}

func (h *harness) optStr(td *datadriven.TestData, key string) *string {
	if a, ok := td.Arg(key); ok {
		return kmsg.StringPtr(a.Vals[0])
	}
	return nil
}

func (h *harness) int(td *datadriven.TestData, key string, def int) int {
	if a, ok := td.Arg(key); ok {
		return atoi(td, a.Vals[0])
	}
	return def
}

func (h *harness) dur(td *datadriven.TestData, key string, def time.Duration) time.Duration {
	if a, ok := td.Arg(key); ok {
		return dur(td, a.Vals[0])
	}
	return def
}

func (h *harness) list(td *datadriven.TestData, key string, def []string) []string {
	if a, ok := td.Arg(key); ok {
		return slices.Clone(a.Vals)
	}
	return def
}

func atoi(td *datadriven.TestData, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", td.Pos, err))
	}
	return n
}

func dur(td *datadriven.TestData, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", td.Pos, err))
	}
	return d
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func splitTP(td *datadriven.TestData, t *testing.T, s string) (string, int32) {
	topic, p, ok := strings.Cut(s, ":")
	if !ok {
		td.Fatalf(t, "topic:partition, not %q", s)
	}
	return topic, int32(atoi(td, p))
}
