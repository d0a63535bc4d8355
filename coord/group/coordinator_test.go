package group

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTestCoordinator(t *testing.T, change func(*Config)) *Coordinator {
	t.Helper()
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	n := 0
	cfg.NewMemberID = func(prefix string) string {
		n++
		return prefix + "-" + string(rune('0'+n))
	}
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// joinAndSync makes a one-member consumer group Stable and returns the
// member id.
func joinAndSync(t *testing.T, c *Coordinator, now time.Time, group string) string {
	t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 3
	join.Group = group
	join.SessionTimeoutMillis = 10000
	join.RebalanceTimeoutMillis = 10000
	join.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	out := c.JoinGroup(now, Client{ID: "c"}, join, "join")
	jr := out.Replies[0].Response.(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, jr.MemberID, jr.Generation
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{0, 0}}}
	out = c.SyncGroup(now, sync, "sync")
	if code := out.Replies[0].Response.(*kmsg.SyncGroupResponse).ErrorCode; code != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(code))
	}
	return jr.MemberID
}

func TestNewValidatesConfig(t *testing.T) {
	if _, err := New(DefaultConfig()); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"negative delay":        func(c *Config) { c.InitialRebalanceDelay = -1 },
		"min above max session": func(c *Config) { c.MinSessionTimeout = time.Hour; c.MaxSessionTimeout = time.Minute },
		"zero group size":       func(c *Config) { c.MaxGroupSize = 0 },
		"zero retention":        func(c *Config) { c.OffsetsRetention = 0 },
		"zero check interval":   func(c *Config) { c.OffsetsRetentionCheckInterval = 0 },
		"zero join timeout":     func(c *Config) { c.NewMemberJoinTimeout = 0 },
		"negative metadata":     func(c *Config) { c.MaxOffsetMetadataBytes = -1 },
		"the zero Config":       func(c *Config) { *c = Config{} },
	} {
		cfg := DefaultConfig()
		change(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestDefaultMemberIDs(t *testing.T) {
	a, b := randomMemberID("client"), randomMemberID("client")
	if a == b {
		t.Fatalf("two ids alike: %s", a)
	}
	// Kafka's shape: the prefix, a dash, a UUID.
	rest, ok := strings.CutPrefix(a, "client-")
	if !ok || len(rest) != 36 || strings.Count(rest, "-") != 4 || rest[14] != '4' {
		t.Fatalf("not prefix-UUIDv4: %s", a)
	}
}

// The records are Kafka's: key version 1 offsets (OffsetCommitValue v3, v1
// with an explicit expiry) and key version 2 groups (GroupMetadataValue
// v3), which Kafka's tools and kmsg decode.
func TestRecordFormat(t *testing.T) {
	c := newTestCoordinator(t, nil)
	now := time.UnixMilli(1_700_000_000_000)
	member := joinAndSync(t, c, now, "g")

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 2
	commit.Group = "s"
	commit.RetentionTimeMillis = 60_000
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Offset, p.Metadata = 42, kmsg.StringPtr("md")
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	out := c.OffsetCommit(now, commit, nil)
	if len(out.Records) != 1 {
		t.Fatalf("%d records", len(out.Records))
	}
	r := out.Records[0]
	if r.Key[0] != 0 || r.Key[1] != 1 {
		t.Errorf("offset key version %x, want 0001", r.Key[:2])
	}
	var k kmsg.OffsetCommitKey
	var v kmsg.OffsetCommitValue
	if err := k.ReadFrom(r.Key); err != nil || k.Group != "s" || k.Topic != "t" || k.Partition != 0 {
		t.Errorf("key %+v, %v", k, err)
	}
	if err := v.ReadFrom(r.Value); err != nil || v.Version != 1 || v.Offset != 42 || v.Metadata != "md" ||
		v.CommitTimestamp != now.UnixMilli() || v.ExpireTimestamp != now.UnixMilli()+60_000 {
		t.Errorf("value %+v, %v", v, err)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 3
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}}
	out = c.LeaveGroup(now.Add(time.Second), leave, nil)
	if len(out.Records) != 1 {
		t.Fatalf("%d records", len(out.Records))
	}
	var gk kmsg.GroupMetadataKey
	var gv kmsg.GroupMetadataValue
	if err := gk.ReadFrom(out.Records[0].Key); err != nil || gk.Version != 2 || gk.Group != "g" {
		t.Errorf("group key %+v, %v", gk, err)
	}
	if err := gv.ReadFrom(out.Records[0].Value); err != nil || gv.Version != 3 || gv.Generation != 2 ||
		gv.ProtocolType != "consumer" || gv.Protocol != nil || gv.Leader != nil || len(gv.Members) != 0 ||
		gv.CurrentStateTimestamp != now.Add(time.Second).UnixMilli() {
		t.Errorf("group value %+v, %v", gv, err)
	}
}

// Restore reads what Kafka itself writes, in every version.
func TestRestoreKafkaRecords(t *testing.T) {
	c := newTestCoordinator(t, nil)
	at := time.UnixMilli(1_700_000_000_000)
	offset := func(keyVersion, valueVersion int16, partition int32, o int64) {
		k := kmsg.NewOffsetCommitKey()
		k.Version, k.Group, k.Topic, k.Partition = keyVersion, "g", "t", partition
		v := kmsg.NewOffsetCommitValue()
		v.Version, v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = valueVersion, o, 7, "m", at.UnixMilli()
		v.ExpireTimestamp = -1
		if err := c.Restore(k.AppendTo(nil), v.AppendTo(nil)); err != nil {
			t.Fatalf("offset v%d/v%d: %v", keyVersion, valueVersion, err)
		}
	}
	for i, vv := range []int16{0, 1, 2, 3, 4} {
		offset(int16(i%2), vv, int32(i), int64(100+i))
	}
	for _, vv := range []int16{0, 1, 2, 3, 4} {
		k := kmsg.NewGroupMetadataKey()
		k.Version, k.Group = 2, "g"
		v := kmsg.NewGroupMetadataValue()
		v.Version, v.ProtocolType, v.Generation = vv, "consumer", 5
		v.Protocol, v.Leader = kmsg.StringPtr("range"), kmsg.StringPtr("m1")
		v.CurrentStateTimestamp = at.UnixMilli()
		m := kmsg.NewGroupMetadataValueMember()
		m.MemberID, m.ClientID, m.ClientHost, m.SessionTimeoutMillis, m.RebalanceTimeoutMillis = "m1", "c", "/h", 10000, 20000
		m.InstanceID = kmsg.StringPtr("i1")
		m.Subscription, m.Assignment = []byte("sub"), []byte("asg")
		v.Members = []kmsg.GroupMetadataValueMember{m}
		if err := c.Restore(k.AppendTo(nil), v.AppendTo(nil)); err != nil {
			t.Fatalf("group v%d: %v", vv, err)
		}
		d, ok := c.Group("g")
		if !ok || d.State != Stable || d.Generation != 5 || d.Leader != "m1" || len(d.Members) != 1 ||
			string(d.Members[0].Assignment) != "asg" || string(d.Members[0].Metadata) != "sub" {
			t.Fatalf("group v%d restored as %+v", vv, d)
		}
		wantRebalance := 20 * time.Second
		if vv == 0 {
			wantRebalance = 10 * time.Second // v0 has no rebalance timeout
		}
		if got := d.Members[0].RebalanceTimeout; got != wantRebalance {
			t.Errorf("group v%d: rebalance timeout %v", vv, got)
		}
		if (d.Members[0].InstanceID == "i1") != (vv >= 3) {
			t.Errorf("group v%d: instance id %q", vv, d.Members[0].InstanceID)
		}
	}
	offs := c.Offsets("g")
	if len(offs) != 5 {
		t.Fatalf("offsets %+v", offs)
	}
	for i, o := range offs {
		wantEpoch := int32(-1)
		if i >= 3 {
			wantEpoch = 7
		}
		if o.Offset != int64(100+i) || o.LeaderEpoch != wantEpoch || o.Metadata != "m" || !o.CommitTime.Equal(at) || !o.ExpireTime.IsZero() {
			t.Errorf("offset %d restored as %+v", i, o)
		}
	}

	// A member restored from the record keeps heartbeating after a start.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", "m1", 5
	hb.InstanceID = kmsg.StringPtr("i1")
	if code := c.Heartbeat(at, hb, nil).Replies[0].Response.(*kmsg.HeartbeatResponse).ErrorCode; code != 0 {
		t.Fatalf("heartbeat after restore: %v", kerr.ErrorForCode(code))
	}
	if err := c.Restore([]byte{0, 2, 0, 1, 'g'}, nil); !errors.Is(err, ErrStarted) {
		t.Fatalf("Restore after start: %v", err)
	}
}

func TestRestoreErrors(t *testing.T) {
	c := newTestCoordinator(t, nil)
	for name, kv := range map[string][2][]byte{
		"short key":        {{0}, nil},
		"bad offset key":   {{0, 1, 0, 9}, nil},
		"bad offset value": {offsetKey("g", "t", 0), {0, 3, 1}},
		"bad group value":  {groupKey("g"), {0, 3, 1}},
		"no protocol": {groupKey("g"), func() []byte {
			v := kmsg.NewGroupMetadataValue()
			v.Version = 3
			m := kmsg.NewGroupMetadataValueMember()
			m.MemberID = "m"
			v.Members = []kmsg.GroupMetadataValueMember{m}
			return v.AppendTo(nil)
		}()},
		"twice the same instance": {groupKey("g"), func() []byte {
			v := kmsg.NewGroupMetadataValue()
			v.Version, v.Protocol = 3, kmsg.StringPtr("range")
			m := kmsg.NewGroupMetadataValueMember()
			m.MemberID, m.InstanceID = "m", kmsg.StringPtr("i")
			m2 := m
			m2.MemberID = "m2"
			v.Members = []kmsg.GroupMetadataValueMember{m, m2}
			return v.AppendTo(nil)
		}()},
		"twice the same member": {groupKey("g"), func() []byte {
			v := kmsg.NewGroupMetadataValue()
			v.Version, v.Protocol = 3, kmsg.StringPtr("range")
			m := kmsg.NewGroupMetadataValueMember()
			m.MemberID = "m"
			v.Members = []kmsg.GroupMetadataValueMember{m, m}
			return v.AppendTo(nil)
		}()},
	} {
		if err := c.Restore(kv[0], kv[1]); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: got %v, want ErrBadRecord", name, err)
		}
	}
	// Other kinds of records (KIP-848 groups use key versions 3+) are
	// skipped.
	if err := c.Restore([]byte{0, 3, 0, 1, 'g'}, []byte{1, 2, 3}); err != nil {
		t.Errorf("KIP-848 record: %v", err)
	}
}

func TestHandleRoutes(t *testing.T) {
	c := newTestCoordinator(t, nil)
	if _, ok := c.Handle(time.Now(), Client{}, kmsg.NewPtrMetadataRequest(), nil); ok {
		t.Error("Metadata handled")
	}
	for _, req := range []kmsg.Request{
		kmsg.NewPtrJoinGroupRequest(), kmsg.NewPtrSyncGroupRequest(), kmsg.NewPtrHeartbeatRequest(),
		kmsg.NewPtrLeaveGroupRequest(), kmsg.NewPtrOffsetCommitRequest(), kmsg.NewPtrOffsetFetchRequest(),
		kmsg.NewPtrDescribeGroupsRequest(), kmsg.NewPtrListGroupsRequest(), kmsg.NewPtrDeleteGroupsRequest(),
		kmsg.NewPtrOffsetDeleteRequest(),
	} {
		out, ok := c.Handle(time.Now(), Client{}, req, 7)
		if !ok || len(out.Replies) != 1 || out.Replies[0].To != 7 || out.Replies[0].Response.Key() != req.Key() {
			t.Errorf("%T: %v %+v", req, ok, out)
		}
	}
}

// Tick fires each deadline as of the deadline: a late Tick has the same
// outcome as a punctual one.
func TestLateTickFiresAtDeadlines(t *testing.T) {
	run := func(ticks []time.Duration) string {
		c := newTestCoordinator(t, nil)
		now := time.UnixMilli(1_000_000)
		joinAndSync(t, c, now, "g")
		joinAndSync(t, c, now, "h")
		var log []string
		for _, d := range ticks {
			now = now.Add(d)
			for _, r := range c.Tick(now).Records {
				log = append(log, fmtRecord(r))
			}
		}
		return strings.Join(log, "\n")
	}
	punctual := run([]time.Duration{10 * time.Second, time.Hour})
	late := run([]time.Duration{time.Hour + 10*time.Second})
	if punctual != late || !strings.Contains(late, "group g") || !strings.Contains(late, "group h") {
		t.Fatalf("punctual:\n%s\nlate:\n%s", punctual, late)
	}
}

func TestTimeNeverGoesBack(t *testing.T) {
	c := newTestCoordinator(t, nil)
	now := time.UnixMilli(1_000_000)
	member := joinAndSync(t, c, now, "g")
	// A heartbeat with an earlier time counts as now: the session still
	// runs from now.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", member, 1
	c.Heartbeat(now.Add(-time.Hour), hb, nil)
	if at, _ := c.NextDeadline(); !at.Equal(now.Add(10 * time.Second)) {
		t.Fatalf("next deadline %v, want %v", at, now.Add(10*time.Second))
	}
}

// Heartbeats re-arm the session timer many times; the stale entries are
// compacted away.
func TestTimerHeapStaysSmall(t *testing.T) {
	c := newTestCoordinator(t, nil)
	now := time.UnixMilli(1_000_000)
	member := joinAndSync(t, c, now, "g")
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", member, 1
	for range 10000 {
		now = now.Add(time.Millisecond)
		c.Heartbeat(now, hb, nil)
	}
	if n := c.timers.Len(); n > 200 {
		t.Fatalf("%d timer entries for 2 timers", n)
	}
	if at, ok := c.NextDeadline(); !ok || !at.Equal(now.Add(10*time.Second)) {
		t.Fatalf("next deadline %v %v", at, ok)
	}
}

// The views are copies.
func TestViewsAreCopies(t *testing.T) {
	c := newTestCoordinator(t, nil)
	joinAndSync(t, c, time.UnixMilli(1_000_000), "g")
	d, _ := c.Group("g")
	d.Members[0].Assignment[0] = 9
	d.Members[0].Metadata[0] = 9
	again, _ := c.Group("g")
	if again.Members[0].Assignment[0] != 0 || again.Members[0].Metadata[0] != 0 {
		t.Fatal("Group shares its slices")
	}
	if gs := c.Groups(); len(gs) != 1 || gs[0].Group != "g" || gs[0].State != Stable || gs[0].Members != 1 {
		t.Fatalf("Groups: %+v", gs)
	}
	if _, ok := c.Group("nope"); ok || c.Offsets("nope") != nil {
		t.Fatal("an unknown group is described")
	}
}

func TestParseState(t *testing.T) {
	for s := Empty; s <= Dead; s++ {
		got, ok := ParseState(strings.ToLower(s.String()))
		if !ok || got != s {
			t.Errorf("%s: %v %v", s, got, ok)
		}
	}
	if _, ok := ParseState("Reconciling"); ok {
		t.Error("Reconciling parsed")
	}
}

// Every response encodes and decodes at every version of its API.
func TestResponsesAtEveryVersion(t *testing.T) {
	for _, api := range APIVersions() {
		key := api.Key.Int16()
		for v := api.Min; v <= api.Max; v++ {
			c := newTestCoordinator(t, nil)
			now := time.UnixMilli(1_000_000)
			joinAndSync(t, c, now, "g")
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			// Encode and decode the request as the broker would.
			b := req.AppendTo(nil)
			dec := kmsg.RequestForKey(key)
			dec.SetVersion(v)
			if err := dec.ReadFrom(b); err != nil {
				t.Fatalf("key %d v%d request: %v", key, v, err)
			}
			out, ok := c.Handle(now, Client{ID: "c"}, dec, nil)
			if !ok {
				t.Fatalf("key %d not handled", key)
			}
			for _, r := range out.Replies {
				if r.Response.GetVersion() != v {
					t.Errorf("key %d v%d answered at v%d", key, v, r.Response.GetVersion())
				}
				resp := kmsg.ResponseForKey(key)
				resp.SetVersion(v)
				if err := resp.ReadFrom(r.Response.AppendTo(nil)); err != nil {
					t.Errorf("key %d v%d response: %v", key, v, err)
				}
			}
		}
	}
}

// A NewMemberID that repeats itself still yields distinct ids.
func TestMemberIDCollisions(t *testing.T) {
	c := newTestCoordinator(t, func(cfg *Config) {
		cfg.NewMemberID = func(prefix string) string { return prefix + "-x" }
	})
	seen := map[string]bool{}
	for range 3 {
		join := kmsg.NewPtrJoinGroupRequest()
		join.Version = 4
		join.Group = "g"
		join.SessionTimeoutMillis = 10000
		join.ProtocolType = "consumer"
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		id := c.JoinGroup(time.UnixMilli(1), Client{ID: "c"}, join, nil).Replies[0].Response.(*kmsg.JoinGroupResponse).MemberID
		if seen[id] {
			t.Fatalf("id %s handed out twice", id)
		}
		seen[id] = true
	}
}

// A request after a deadline sees it fired, even if Tick was not called:
// a heartbeat cannot revive a member whose session is over.
func TestRequestsFireDueDeadlines(t *testing.T) {
	c := newTestCoordinator(t, nil)
	now := time.UnixMilli(1_000_000)
	member := joinAndSync(t, c, now, "g")
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", member, 1
	out := c.Heartbeat(now.Add(11*time.Second), hb, "hb")
	if len(out.Records) != 1 || len(out.Replies) != 1 {
		t.Fatalf("want the Empty group record and the heartbeat's reply: %+v", out)
	}
	if code := out.Replies[0].Response.(*kmsg.HeartbeatResponse).ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after the session: %v", kerr.ErrorForCode(code))
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(out.Records[0].Value); err != nil || v.CurrentStateTimestamp != now.Add(10*time.Second).UnixMilli() {
		t.Fatalf("the group emptied at %d, want the deadline %d (%v)", v.CurrentStateTimestamp, now.Add(10*time.Second).UnixMilli(), err)
	}
}
