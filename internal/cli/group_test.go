package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupWait bounds every wait of the group tests for a condition.
const groupWait = 30 * time.Second

// uniqueGroup returns a group name unique to this test and run.
func uniqueGroup(t *testing.T) string { return "g-" + uniqueTopic(t) }

// groupMember is a franz-go consumer in a group that commits only when told.
type groupMember struct {
	t    *testing.T
	cl   *kgo.Client
	once sync.Once
}

// joinGroup starts a consumer of topics in group, starting at the log start
// of partitions without a committed offset. It is closed (leaving the group)
// when the test ends, unless closed before.
func (c *cluster) joinGroup(group string, topics ...string) *groupMember {
	c.t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		c.t.Fatalf("creating group consumer: %v", err)
	}
	m := &groupMember{t: c.t, cl: cl}
	c.t.Cleanup(m.leave)
	return m
}

// leave closes the consumer, which leaves the group.
func (m *groupMember) leave() { m.once.Do(m.cl.Close) }

// consume polls until n records arrived and returns them.
func (m *groupMember) consume(n int) []*kgo.Record {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), groupWait)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := m.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			m.t.Fatalf("consumed %d of %d records before %v", len(recs), n, ctx.Err())
		}
		fs.EachError(func(t string, p int32, err error) { m.t.Logf("fetch error on %s/%d: %v", t, p, err) })
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != n {
		m.t.Fatalf("consumed %d records, want %d", len(recs), n)
	}
	return recs
}

// commit commits what the member has consumed.
func (m *groupMember) commit() {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), groupWait)
	defer cancel()
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		m.t.Fatalf("commit: %v", err)
	}
}

// waitGroup polls DescribeGroups until the group is in state with the
// given number of members.
func (c *cluster) waitGroup(group, state string, members int) {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), groupWait)
	defer cancel()
	var last string
	for {
		gs, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if g, ok := gs[group]; ok {
				if g.State == state && len(g.Members) == members {
					return
				}
				last = fmt.Sprintf("state %s with %d member(s)", g.State, len(g.Members))
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("group %s never reached state %s with %d member(s); last %s (err %v)", group, state, members, last, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// produceTo produces the given number of records to each partition (index:
// partition) with the CLI.
func (c *cluster) produceTo(topic string, perPartition ...int) {
	c.t.Helper()
	for p, n := range perPartition {
		if n == 0 {
			continue
		}
		c.ok(strings.Repeat("x\n", n), "produce", topic, "--partition", fmt.Sprint(p))
	}
}

// groupSummary returns the value of a summary line (e.g. "STATE") of a
// group describe output.
func groupSummary(t *testing.T, out, key string) string {
	t.Helper()
	f := fields(out, key)
	if len(f) != 2 {
		t.Fatalf("describe output has no %s line:\n%s", key, out)
	}
	return f[1]
}

// partitionRow is one line of the PARTITIONS section of group describe.
type partitionRow struct {
	current, start, end, lag, member string
}

// partitionRows parses the PARTITIONS section of a group describe output,
// keyed by "topic/partition".
func partitionRows(t *testing.T, out string) map[string]partitionRow {
	t.Helper()
	i := strings.Index(out, "PARTITIONS\n==========\n")
	if i < 0 {
		t.Fatalf("describe output has no PARTITIONS section:\n%s", out)
	}
	rows := make(map[string]partitionRow)
	for _, l := range lines(out[i:])[3:] {
		f := strings.Fields(l)
		if len(f) != 10 {
			t.Fatalf("partition row %q has %d cells, want 10", l, len(f))
		}
		rows[f[0]+"/"+f[1]] = partitionRow{current: f[2], start: f[3], end: f[4], lag: f[5], member: f[6]}
	}
	return rows
}

// memberRows parses the MEMBERS section: member id -> assigned partitions.
func memberRows(t *testing.T, out string) map[string]string {
	t.Helper()
	i := strings.Index(out, "MEMBERS\n=======\n")
	j := strings.Index(out, "PARTITIONS\n==========\n")
	if i < 0 || j < i {
		t.Fatalf("describe output lacks MEMBERS before PARTITIONS:\n%s", out)
	}
	rows := make(map[string]string)
	for _, l := range lines(out[i:j])[3:] {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("member row %q has %d cells", l, len(f))
		}
		rows[f[0]] = strings.Join(f[4:], " ")
	}
	return rows
}

// wantPartitions checks describe rows: topic/partition -> current, log
// end, lag, and whether a member (the one given, or none for "-") owns it.
func wantPartitions(t *testing.T, out string, want map[string][4]string) {
	t.Helper()
	rows := partitionRows(t, out)
	if len(rows) != len(want) {
		t.Fatalf("describe lists %d partitions, want %d:\n%s", len(rows), len(want), out)
	}
	for k, w := range want {
		r, ok := rows[k]
		if !ok {
			t.Fatalf("describe lacks partition %s:\n%s", k, out)
		}
		if r.current != w[0] || r.end != w[1] || r.lag != w[2] || r.member != w[3] {
			t.Fatalf("partition %s: current %s end %s lag %s member %s, want %v:\n%s",
				k, r.current, r.end, r.lag, r.member, w, out)
		}
		if r.start != "0" {
			t.Fatalf("partition %s: log start %s, want 0", k, r.start)
		}
	}
}

func TestGroupDescribeLag(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(3)
	other := c.createTopic(2)
	group := uniqueGroup(t)
	c.produceTo(topic, 4, 2, 0)
	c.produceTo(other, 3, 1)

	// Offsets for a topic no member will consume: set while the group does
	// not exist yet (an admin commit creates it).
	c.ok("", "group", "reset-offsets", group, "--topic", other+":0", "--to-offset", "1")

	m := c.joinGroup(group, topic)
	m.consume(6)
	m.commit()
	c.waitGroup(group, "Stable", 1)

	out := c.ok("", "group", "describe", group)
	if s := groupSummary(t, out, "STATE"); s != "Stable" {
		t.Fatalf("state %s:\n%s", s, out)
	}
	for key, want := range map[string]string{"PROTOCOL-TYPE": "consumer", "MEMBERS": "1", "TOTAL-LAG": "3"} {
		if got := groupSummary(t, out, key); got != want {
			t.Fatalf("%s = %s, want %s:\n%s", key, got, want, out)
		}
	}
	if p := groupSummary(t, out, "PROTOCOL"); p == "-" {
		t.Fatalf("no protocol in a Stable group:\n%s", out)
	}
	if f := fields(out, "COORDINATOR"); len(f) != 3 || !strings.Contains(f[2], c.brokers[0]) {
		t.Fatalf("coordinator line %v, want broker %s", f, c.brokers[0])
	}
	members := memberRows(t, out)
	if len(members) != 1 {
		t.Fatalf("members %v:\n%s", members, out)
	}
	var member string
	for id, assigned := range members {
		member = id
		if assigned != topic+":0,1,2" {
			t.Fatalf("member %s assigned %q, want %s:0,1,2", id, assigned, topic)
		}
	}
	wantPartitions(t, out, map[string][4]string{
		topic + "/0": {"4", "4", "0", member},
		topic + "/1": {"2", "2", "0", member},
		topic + "/2": {"-", "0", "0", member}, // assigned, nothing to commit
		other + "/0": {"1", "3", "2", "-"},    // committed, owned by nobody
		other + "/1": {"-", "1", "1", "-"},    // of a committed topic: all lagging
	})

	// More records: lag grows where they went; committed offsets stay.
	c.produceTo(topic, 0, 5, 1)
	out = c.ok("", "group", "describe", group)
	wantPartitions(t, out, map[string][4]string{
		topic + "/0": {"4", "4", "0", member},
		topic + "/1": {"2", "7", "5", member},
		topic + "/2": {"-", "1", "1", member},
		other + "/0": {"1", "3", "2", "-"},
		other + "/1": {"-", "1", "1", "-"},
	})
	if got := groupSummary(t, out, "TOTAL-LAG"); got != "9" {
		t.Fatalf("TOTAL-LAG %s, want 9:\n%s", got, out)
	}

	// Consuming and committing them brings the lag back to 0.
	m.consume(6)
	m.commit()
	out = c.ok("", "group", "describe", group)
	wantPartitions(t, out, map[string][4]string{
		topic + "/0": {"4", "4", "0", member},
		topic + "/1": {"7", "7", "0", member},
		topic + "/2": {"1", "1", "0", member},
		other + "/0": {"1", "3", "2", "-"},
		other + "/1": {"-", "1", "1", "-"},
	})

	// Once the member left, the group is Empty and its partitions are
	// listed without a member.
	m.leave()
	c.waitGroup(group, "Empty", 0)
	out = c.ok("", "group", "describe", group)
	if s := groupSummary(t, out, "STATE"); s != "Empty" {
		t.Fatalf("state after leaving %s:\n%s", s, out)
	}
	if len(memberRows(t, out)) != 0 {
		t.Fatalf("members listed in an Empty group:\n%s", out)
	}
	rows := partitionRows(t, out)
	for k, want := range map[string]string{topic + "/0": "4", topic + "/1": "7", topic + "/2": "1", other + "/0": "1"} {
		if r := rows[k]; r.current != want || r.member != "-" {
			t.Fatalf("Empty group partition %s: %+v, want current %s and no member:\n%s", k, r, want, out)
		}
	}

	// Several groups at once; an unknown one fails but the others print.
	missing := uniqueGroup(t)
	r := c.fail("", "group", "describe", group, missing)
	if !strings.Contains(r.stdout, "GROUP          "+group) || !strings.Contains(r.stdout, missing+": group does not exist") {
		t.Fatalf("describe of a known and an unknown group:\n%s", r.stdout)
	}
	if !strings.Contains(r.err.Error(), "1 of 2") {
		t.Fatalf("error %v", r.err)
	}
}

// resetRows parses a reset-offsets table: topic/partition -> old, new,
// status (first word).
func resetRows(t *testing.T, out string) map[string][3]string {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 || !strings.HasPrefix(ls[0], "TOPIC") {
		t.Fatalf("reset-offsets output lacks its header:\n%s", out)
	}
	rows := make(map[string][3]string)
	for _, l := range ls[1:] {
		if strings.HasPrefix(l, "dry run") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("reset row %q", l)
		}
		rows[f[0]+"/"+f[1]] = [3]string{f[2], f[3], f[4]}
	}
	return rows
}

// committedOffsets returns the group's committed offsets per partition as
// describe prints them.
func (c *cluster) committedOffsets(group string) map[string]string {
	c.t.Helper()
	out := c.ok("", "group", "describe", group)
	got := make(map[string]string)
	for k, r := range partitionRows(c.t, out) {
		got[k] = r.current
	}
	return got
}

func TestGroupResetOffsets(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(2)
	group := uniqueGroup(t)

	// Records with known timestamps, one second apart: partition 0 has
	// ten from base, partition 1 six from base, two seconds apart.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("p0"), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	for i := range 6 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("p1"), Timestamp: base.Add(time.Duration(2*i) * time.Second)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupWait)
	defer cancel()
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	m := c.joinGroup(group, topic)
	m.consume(16)
	m.commit()
	c.waitGroup(group, "Stable", 1)
	want := map[string]string{topic + "/0": "10", topic + "/1": "6"}
	check := func(step string) {
		t.Helper()
		got := c.committedOffsets(group)
		for k, w := range want {
			if got[k] != w {
				t.Fatalf("%s: committed %v, want %v", step, got, want)
			}
		}
	}
	check("after consuming")

	// Refused while the member is active, for every mode.
	for _, mode := range [][]string{
		{"--to-earliest"}, {"--to-latest"}, {"--shift-by", "-1"}, {"--to-offset", "1"},
		{"--to-datetime", base.Format(time.RFC3339)},
	} {
		r := c.fail("", append([]string{"group", "reset-offsets", group, "--topic", topic}, mode...)...)
		if !strings.Contains(r.err.Error(), "1 active member(s)") || !strings.Contains(r.err.Error(), "Stable") {
			t.Fatalf("reset %v while active: %v", mode, r.err)
		}
	}
	check("after the refused resets")

	m.leave()
	c.waitGroup(group, "Empty", 0)

	// A dry run shows the plan and commits nothing.
	out := c.ok("", "group", "reset-offsets", group, "--all-topics", "--to-earliest", "--dry-run")
	if got := resetRows(t, out); got[topic+"/0"] != [3]string{"10", "0", "dry-run"} || got[topic+"/1"] != [3]string{"6", "0", "dry-run"} {
		t.Fatalf("dry run plan %v:\n%s", got, out)
	}
	if !strings.Contains(out, "no offsets were committed") {
		t.Fatalf("dry run output:\n%s", out)
	}
	check("after the dry run")

	steps := []struct {
		args []string
		rows map[string][3]string // topic/partition -> old, new, status
	}{
		{[]string{"--topic", topic, "--to-earliest"},
			map[string][3]string{"0": {"10", "0", "OK"}, "1": {"6", "0", "OK"}}},
		{[]string{"--topic", topic + ":1", "--to-latest"},
			map[string][3]string{"1": {"0", "6", "OK"}}},
		{[]string{"--all-topics", "--shift-by", "3"}, // partition 1 clamps to the high watermark
			map[string][3]string{"0": {"0", "3", "OK"}, "1": {"6", "6", "OK"}}},
		{[]string{"--topic", topic, "--shift-by", "-100"},
			map[string][3]string{"0": {"3", "0", "OK"}, "1": {"6", "0", "OK"}}},
		{[]string{"--topic", topic + ":0", "--to-offset", "100"},
			map[string][3]string{"0": {"0", "10", "OK"}}},
		{[]string{"--topic", topic, "--to-datetime", base.Add(5 * time.Second).UTC().Format(time.RFC3339)},
			map[string][3]string{"0": {"10", "5", "OK"}, "1": {"0", "3", "OK"}}},
		{[]string{"--topic", topic, "--to-datetime", fmt.Sprint(base.Add(time.Hour).UnixMilli())}, // after every record
			map[string][3]string{"0": {"5", "10", "OK"}, "1": {"3", "6", "OK"}}},
		{[]string{"--topic", topic + ":0", "--topic", topic + ":1", "--to-datetime", fmt.Sprint(base.Add(3 * time.Second).UnixMilli())},
			map[string][3]string{"0": {"10", "3", "OK"}, "1": {"6", "2", "OK"}}},
		{[]string{"--topic", topic + ":0", "--to-offset", "4"},
			map[string][3]string{"0": {"3", "4", "OK"}}},
	}
	for _, s := range steps {
		out := c.ok("", append([]string{"group", "reset-offsets", group}, s.args...)...)
		got := resetRows(t, out)
		if len(got) != len(s.rows) {
			t.Fatalf("reset %v rows:\n%s", s.args, out)
		}
		for p, w := range s.rows {
			if got[topic+"/"+p] != w {
				t.Fatalf("reset %v: partition %s %v, want %v:\n%s", s.args, p, got[topic+"/"+p], w, out)
			}
			want[topic+"/"+p] = w[1]
		}
		check(fmt.Sprint("after reset ", s.args))
	}

	// A consumer of the group starts at the reset offsets: 4 on partition
	// 0, 2 on partition 1.
	m = c.joinGroup(group, topic)
	first := map[int32]int64{}
	for _, r := range m.consume(6 + 4) {
		if o, ok := first[r.Partition]; !ok || r.Offset < o {
			first[r.Partition] = r.Offset
		}
	}
	if first[0] != 4 || first[1] != 2 {
		t.Fatalf("consumer started at %v, want partition 0 at 4 and 1 at 2", first)
	}
}

func TestGroupResetOffsetsErrors(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(2)
	group := uniqueGroup(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", topic}, "give one of"},
		{[]string{"--topic", topic, "--to-earliest", "--to-offset", "3"}, "only one of --to-earliest, --to-offset"},
		{[]string{"--to-earliest"}, "--topic (repeatable) or --all-topics"},
		{[]string{"--topic", topic, "--all-topics", "--to-earliest"}, "not both"},
		{[]string{"--topic", topic + ":x", "--to-earliest"}, "invalid --topic"},
		{[]string{"--topic", topic, "--to-datetime", "yesterday"}, "invalid --to-datetime"},
		{[]string{"--topic", topic, "--to-offset", "-1"}, "negative"},
		{[]string{"--all-topics", "--to-earliest"}, "no committed offsets"},
		{[]string{"--topic", uniqueTopic(t), "--to-earliest"}, "UNKNOWN_TOPIC_OR_PARTITION"},
	} {
		r := c.fail("", append([]string{"group", "reset-offsets", group}, tc.args...)...)
		if !strings.Contains(r.err.Error(), tc.want) {
			t.Fatalf("reset %v: error %v, want %q", tc.args, r.err, tc.want)
		}
	}

	// Partition errors are shown per partition and nothing is committed.
	r := c.fail("", "group", "reset-offsets", group, "--topic", topic+":0,5", "--to-earliest")
	if got := resetRows(t, r.stdout); got[topic+"/5"][2] != "error:" || got[topic+"/0"][2] != "not" {
		t.Fatalf("reset of a missing partition:\n%s", r.stdout)
	}
	r = c.fail("", "group", "reset-offsets", group, "--topic", topic, "--shift-by", "1")
	if !strings.Contains(r.stdout, "no committed offset to shift") {
		t.Fatalf("shift without a committed offset:\n%s", r.stdout)
	}
	if r := c.fail("", "group", "describe", group); !strings.Contains(r.stdout, "does not exist") {
		t.Fatalf("failed resets created the group:\n%s", r.stdout)
	}
}

func TestGroupDelete(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)
	group := uniqueGroup(t)
	c.produceTo(topic, 2)
	m := c.joinGroup(group, topic)
	m.consume(2)
	m.commit()
	c.waitGroup(group, "Stable", 1)

	r := c.fail("", "group", "delete", group)
	if f := fields(r.stdout, group); len(f) < 2 || f[1] != "NON_EMPTY_GROUP:" || !strings.Contains(r.stdout, "active members") {
		t.Fatalf("deleting a group with a member:\n%s", r.stdout)
	}
	if !strings.Contains(r.err.Error(), "1 of 1") {
		t.Fatalf("error %v", r.err)
	}

	m.leave()
	c.waitGroup(group, "Empty", 0)
	missing := uniqueGroup(t)
	r = c.fail("", "group", "delete", group, missing)
	if f := fields(r.stdout, group); len(f) != 2 || f[1] != "OK" {
		t.Fatalf("delete output:\n%s", r.stdout)
	}
	if f := fields(r.stdout, missing); len(f) < 2 || f[1] != "GROUP_ID_NOT_FOUND:" {
		t.Fatalf("deleting a missing group:\n%s", r.stdout)
	}
	if r := c.fail("", "group", "describe", group); !strings.Contains(r.stdout, "does not exist") {
		t.Fatalf("deleted group still described:\n%s", r.stdout)
	}
	if f := fields(c.ok("", "group", "list"), group); f != nil {
		t.Fatalf("deleted group still listed: %v", f)
	}

	// Its committed offsets went with it: a new member starts over.
	m = c.joinGroup(group, topic)
	if recs := m.consume(2); recs[0].Offset != 0 {
		t.Fatalf("consumer of the recreated group started at %d", recs[0].Offset)
	}
}

func TestGroupList(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(2)
	stable, empty, simple := uniqueGroup(t), uniqueGroup(t), uniqueGroup(t)
	c.produceTo(topic, 1, 1)

	m := c.joinGroup(stable, topic)
	m.consume(2)
	e := c.joinGroup(empty, topic)
	e.consume(2)
	e.commit()
	e.leave()
	c.ok("", "group", "reset-offsets", simple, "--topic", topic, "--to-latest")
	c.waitGroup(stable, "Stable", 1)
	c.waitGroup(empty, "Empty", 0)

	out := c.ok("", "group", "list")
	if h := fields(out, "GROUP"); strings.Join(h, " ") != "GROUP STATE PROTOCOL-TYPE MEMBERS" {
		t.Fatalf("list header %v:\n%s", h, out)
	}
	for g, want := range map[string]string{
		stable: "Stable consumer 1",
		empty:  "Empty consumer 0",
		simple: "Empty - 0", // offsets only: no protocol type
	} {
		if f := fields(out, g); strings.Join(f[1:], " ") != want {
			t.Fatalf("list row of %s = %v, want %s:\n%s", g, f, want, out)
		}
	}

	for _, tc := range []struct {
		states []string
		want   []string
		absent []string
	}{
		{[]string{"--state", "Stable"}, []string{stable}, []string{empty, simple}},
		{[]string{"--state", "empty"}, []string{empty, simple}, []string{stable}},
		{[]string{"--state", "Stable,Empty"}, []string{stable, empty, simple}, nil},
		{[]string{"-s", "PreparingRebalance", "-s", "Dead"}, nil, []string{stable, empty, simple}},
	} {
		out := c.ok("", append([]string{"group", "list"}, tc.states...)...)
		for _, g := range tc.want {
			if fields(out, g) == nil {
				t.Fatalf("list %v lacks %s:\n%s", tc.states, g, out)
			}
		}
		for _, g := range tc.absent {
			if fields(out, g) != nil {
				t.Fatalf("list %v shows %s:\n%s", tc.states, g, out)
			}
		}
	}
	if r := c.fail("", "group", "list", "--state", "Sleeping"); !strings.Contains(r.err.Error(), "invalid --state") {
		t.Fatalf("bad state: %v", r.err)
	}
}

// TestGroupRebalanceBenchCommand runs "bench rebalance" at its smallest to
// check the command's wiring and report; the benchmark itself is tested in
// package bench.
func TestGroupRebalanceBenchCommand(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--balancer", "fair"}, "invalid balancer"},
		{[]string{"--members", "4", "--partitions", "4"}, "more partitions than members"},
	} {
		r := c.fail("", append([]string{"bench", "rebalance"}, tc.args...)...)
		if !strings.Contains(r.err.Error(), tc.want) {
			t.Fatalf("bench rebalance %v: %v, want %q", tc.args, r.err, tc.want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := eddy(ctx, c.brokers, "", "bench", "rebalance", "--members", "2", "--partitions", "3", "--rounds", "1",
		"--balancer", "roundrobin", "--heartbeat-interval", "500ms", "--rate", "150")
	if r.err != nil {
		t.Fatalf("bench rebalance: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	for _, want := range []string{"BALANCER         roundrobin", "MEMBERS          2", "PARTITIONS       3", "heartbeat interval 500ms"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	for kind, count := range map[string]string{"join": "2", "leave": "1", "kill": "1"} {
		if f := fields(r.stdout, kind); len(f) != 7 || f[1] != count {
			t.Fatalf("%s row %v:\n%s", kind, f, r.stdout)
		}
	}
	if n := strings.Count(r.stderr, "members:"); n != 5 {
		t.Fatalf("%d progress lines, want 5 (startup and 4 events):\n%s", n, r.stderr)
	}
}
