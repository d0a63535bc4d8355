package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// TestGroup runs real clients as members of one consumer group, each
// member a process of its own (see groups_member_test.go), against a
// broker of the client's own that the test can restart. Per client:
//
//	share:           three members join a group on a 6-partition topic;
//	                 DescribeGroups shows each with some of the partitions
//	                 and together all of them; the 600 records produced
//	                 then are each read by exactly one member, the owner
//	                 of the record's partition.
//	leave:           one member closes (LeaveGroup); records produced
//	                 right after are all read by the two others.
//	kill:            once everything read is committed, another is
//	                 killed (SIGKILL); records produced right after are
//	                 all read by the last one, once the dead member's
//	                 session (6 s) has expired, which resumes the dead
//	                 member's partitions exactly at the committed offsets.
//	restart-live:    with everything read and committed, the broker is
//	                 restarted on its data directory: the committed
//	                 offsets are the same after it, and the last member,
//	                 still running, reads the records produced then.
//	restart-backlog: the last member leaves; records are produced that
//	                 nobody reads; the broker is restarted; three new
//	                 members (auto.offset.reset=latest, so a lost commit
//	                 would skip records) read exactly from the committed
//	                 offsets on: every backlog record, none before.
//	at-least-once:   every record produced was read at least once, and
//	                 no record was read again although a commit past it
//	                 had been acknowledged (a lost commit).
//
// Members commit after processing: they write each record to stdout
// ("processing"), then commit it (kcat: librdkafka's auto-commit of the
// offsets of records handed to kcat). Sessions time out after 6 s, the
// broker's minimum. No timing is asserted beyond generous deadlines.
//
// The clients run in parallel, each with a broker of its own.
// EDDY_INTEROP_GROUP_LOGDIR=dir keeps every member's whole stderr in dir;
// EDDY_INTEROP_GROUP_LOG=1 logs the end of it even when the test passes.
func TestGroup(t *testing.T) {
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-15*time.Second))
		t.Cleanup(cancel) // not defer: the subtests run after this returns
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, gc := range groupClients {
		t.Run(gc.name, func(t *testing.T) {
			t.Parallel()
			if gc.avail != nil {
				requireAvailable(t, gc.avail)
			}
			runGroupScenario(ctx, t, gc, runID)
		})
	}
}

// groupClient is one client library (with one assignor) under test.
type groupClient struct {
	name     string // subtest name
	client   string // memberSpec.Client
	assignor string
	kcat     bool    // kcat -G: its own output format, closes on SIGTERM
	avail    *client // whose probe says whether the client runs here; nil: always
	command  func(memberSpec) (dir string, argv, env []string, err error)
}

var groupClients = []*groupClient{
	{name: "kcat", client: "kcat", assignor: "range", kcat: true, avail: kcatClient, command: kcatGroupCommand},
	{name: "confluent-kafka", client: "confluent-kafka", assignor: "range", avail: confluentKafkaClient, command: pyGroupCommand},
	{name: "confluent-kafka-cooperative-sticky", client: "confluent-kafka", assignor: "cooperative-sticky", avail: confluentKafkaClient, command: pyGroupCommand},
	{name: "kafka-python", client: "kafka-python", assignor: "range", avail: kafkaPythonClient, command: pyGroupCommand},
	{name: "kafkajs", client: "kafkajs", assignor: "roundrobin", avail: kafkajsClient, command: jsGroupCommand},
	{name: "sarama", client: "sarama", assignor: "range", command: goGroupCommand},
	{name: "franz-go-range", client: "franz-go", assignor: "range", command: goGroupCommand},
	{name: "franz-go-cooperative-sticky", client: "franz-go", assignor: "cooperative-sticky", command: goGroupCommand},
	{name: "kafka-go", client: "kafka-go", assignor: "range", command: goGroupCommand},
}

const (
	groupPartitions = 6
	groupSessionMS  = 6000 // the broker's group.min.session.timeout.ms
	// Generous deadlines; they only end a broken run.
	groupJoinTimeout   = 60 * time.Second
	groupReadTimeout   = 90 * time.Second
	groupCommitTimeout = 30 * time.Second
)

// ---- a broker that can be restarted ----

// groupBroker is Eddy's broker, in-process, on a fixed loopback port and
// data directory, so that it can be restarted under running clients. With
// EDDY_INTEROP_BROKERS it is that external broker, which cannot be
// restarted.
type groupBroker struct {
	t    *testing.T
	addr string
	dir  string
	b    *broker.Broker // nil: external
}

func startGroupBroker(t *testing.T) *groupBroker {
	t.Helper()
	if addrs := strings.TrimSpace(os.Getenv("EDDY_INTEROP_BROKERS")); addrs != "" {
		t.Logf("interop: using external broker(s) %s", addrs)
		return &groupBroker{t: t, addr: addrs}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gb := &groupBroker{t: t, addr: ln.Addr().String(), dir: t.TempDir()}
	ln.Close()
	if err := gb.open(); err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	t.Cleanup(func() {
		if gb.b != nil {
			gb.b.Close()
		}
	})
	return gb
}

func (gb *groupBroker) open() error {
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		gb.b, err = broker.New(
			broker.WithDataDir(gb.dir),
			broker.WithListen(gb.addr),
			broker.WithLogger(testbroker.Logger(gb.t)),
			// As in testbroker and Kafka's own test harness: no 3 s
			// wait for more members before the first rebalance.
			broker.WithConfig(map[string]string{"group.initial.rebalance.delay.ms": "0"}),
		)
		if err == nil || time.Now().After(deadline) || !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (gb *groupBroker) restartable() bool { return gb.dir != "" }

// restart closes the broker (it syncs what it acknowledged and drops every
// connection), leaves it down for a moment, and opens it again on the same
// data directory and address.
func (gb *groupBroker) restart() error {
	if err := gb.b.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	gb.b = nil
	time.Sleep(500 * time.Millisecond)
	if err := gb.open(); err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	return nil
}

// ---- what the members read ----

type recPos struct {
	p int32
	o int64
}

type groupRead struct {
	member string
	phase  string    // the phase running when the test received it
	at     time.Time // when the test received it
	memberRec
}

// groupCommit is a commit a member reports the broker acknowledged.
type groupCommit struct {
	member string
	at     time.Time
	p      int32
	off    int64
}

// tally collects every record every member reports, in order, and the
// commits they report.
type tally struct {
	mu      sync.Mutex
	phase   string
	reads   []groupRead
	by      map[string][]groupRead // by value
	commits []groupCommit
}

func (tl *tally) commit(member string, offsets map[int32]int64) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	now := time.Now()
	for p, o := range offsets {
		tl.commits = append(tl.commits, groupCommit{member: member, at: now, p: p, off: o})
	}
}

// lastCommit returns the last commit of partition p that the test
// received before t.
func (tl *tally) lastCommit(p int32, t time.Time) (groupCommit, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i := len(tl.commits) - 1; i >= 0; i-- {
		if c := tl.commits[i]; c.p == p && c.at.Before(t) {
			return c, true
		}
	}
	return groupCommit{}, false
}

func (tl *tally) setPhase(phase string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.phase = phase
}

func (tl *tally) add(member string, recs []memberRec) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, r := range recs {
		gr := groupRead{member: member, phase: tl.phase, at: time.Now(), memberRec: r}
		tl.reads = append(tl.reads, gr)
		tl.by[r.V] = append(tl.by[r.V], gr)
	}
}

func (tl *tally) missing(vals map[string]recPos) (int, []string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var some []string
	n := 0
	for v := range vals {
		if len(tl.by[v]) == 0 {
			n++
			if len(some) < 5 {
				some = append(some, v)
			}
		}
	}
	sort.Strings(some)
	return n, some
}

func (tl *tally) readsOf(v string) []groupRead {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.by[v])
}

// since returns the reads received after the first n.
func (tl *tally) since(n int) []groupRead {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.reads[n:])
}

func (tl *tally) count() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.reads)
}

func (tl *tally) all() []groupRead {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.reads)
}

// ---- the scenario ----

type groupScenario struct {
	t        *testing.T
	gc       *groupClient
	gb       *groupBroker
	cl       *kgo.Client
	adm      *kadm.Client
	topic    string
	group    string
	tally    *tally
	produced map[string]recPos // every record produced, by value
	members  map[string]*member
	start    time.Time
	done     atomic.Bool // the test has ended: members' goroutines must not log
}

func (s *groupScenario) logf(format string, args ...any) {
	if s.done.Load() {
		return
	}
	s.t.Logf("[%5.1fs] "+format, append([]any{time.Since(s.start).Seconds()}, args...)...)
}

func runGroupScenario(ctx context.Context, t *testing.T, gc *groupClient, runID string) {
	s := &groupScenario{
		t:        t,
		gc:       gc,
		topic:    fmt.Sprintf("interop-group-%s-%s", gc.name, runID),
		group:    fmt.Sprintf("interop-group-%s-%s", gc.name, runID),
		tally:    &tally{by: map[string][]groupRead{}},
		produced: map[string]recPos{},
		members:  map[string]*member{},
		start:    time.Now(),
	}
	t.Cleanup(func() { s.done.Store(true) }) // runs last
	s.gb = startGroupBroker(t)
	t.Cleanup(func() { // before the broker closes
		for _, m := range s.members {
			m.kill()
		}
		if t.Failed() || os.Getenv("EDDY_INTEROP_GROUP_LOG") != "" {
			t.Logf("members at the end:%s", s.membersState())
		}
	})
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(splitAddrs(s.gb.addr)...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(s.topic),
		// kafkajs reads snappy only with a plug-in; compression is not
		// what this test is about.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	s.cl, s.adm = cl, kadm.NewClient(cl)
	if missing := missingGroupAPIs(ctx, t, s.adm); missing != "" {
		t.Fatalf("the broker does not serve %s", missing)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := s.adm.CreateTopic(cctx, groupPartitions, 1, nil, s.topic)
	cancel()
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", s.topic, err)
	}
	t.Logf("%s members (assignor %s), group %s, topic %s with %d partitions, broker %s",
		gc.name, gc.assignor, s.group, s.topic, groupPartitions, s.gb.addr)

	phases := []struct {
		name string
		run  func(ctx context.Context, t *testing.T)
	}{
		{"share", s.share},
		{"leave", s.leave},
		{"kill", s.kill},
		{"restart-live", s.restartLive},
		{"restart-backlog", s.restartBacklog},
		{"at-least-once", s.atLeastOnce},
	}
	failed := ""
	for _, ph := range phases {
		ok := t.Run(ph.name, func(t *testing.T) {
			if failed != "" && ph.name != "at-least-once" {
				t.Skipf("phase %s failed", failed)
			}
			began := time.Now()
			s.tally.setPhase(ph.name)
			ph.run(ctx, t)
			s.logf("phase %s took %.1fs", ph.name, time.Since(began).Seconds())
		})
		if !ok && failed == "" {
			failed = ph.name
		}
	}
}

func (s *groupScenario) memberID(n int) string { return fmt.Sprintf("eddy-%s-m%d", s.gc.name, n) }

func (s *groupScenario) startMembers(t *testing.T, reset string, ns ...int) []string {
	var ids []string
	for _, n := range ns {
		id := s.memberID(n)
		spec := memberSpec{
			Bootstrap: s.gb.addr,
			Group:     s.group,
			Topic:     s.topic,
			ClientID:  id,
			Reset:     reset,
			Assignor:  s.gc.assignor,
			SessionMS: groupSessionMS,
		}
		m, err := startMember(s.gc, spec, s.tally.add, s.tally.commit, s.logf)
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		s.members[id] = m
		ids = append(ids, id)
	}
	s.logf("started %s (auto.offset.reset=%s)", strings.Join(ids, ", "), reset)
	return ids
}

// membersState describes the members, for failure messages.
func (s *groupScenario) membersState() string {
	var b strings.Builder
	ids := make([]string, 0, len(s.members))
	for id := range s.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "\n  %s", s.members[id].describe())
	}
	return b.String()
}

// produce writes n records with values "<phase>-<i>", record i to partition
// i mod 6, and returns their positions.
func (s *groupScenario) produce(ctx context.Context, t *testing.T, phase string, n int) map[string]recPos {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := fmt.Sprintf("%s-%d", phase, i)
		recs[i] = &kgo.Record{Key: []byte("k" + v), Value: []byte(v), Partition: int32(i % groupPartitions)}
	}
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s records: %v", phase, err)
	}
	out := make(map[string]recPos, n)
	for _, r := range recs {
		pos := recPos{r.Partition, r.Offset}
		out[string(r.Value)] = pos
		s.produced[string(r.Value)] = pos
	}
	s.logf("produced %d records %s-*", n, phase)
	return out
}

// waitRead waits until every record of vals has been read by some member.
func (s *groupScenario) waitRead(ctx context.Context, t *testing.T, what string, vals map[string]recPos) {
	t.Helper()
	err := poll(ctx, groupReadTimeout, func() error {
		if err := s.crashed(); err != nil {
			return err
		}
		if n, some := s.tally.missing(vals); n > 0 {
			return fmt.Errorf("%d of %d records not read, e.g. %v", n, len(vals), some)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v; members:%s", what, err, s.membersState())
	}
	s.logf("%s: all %d records read", what, len(vals))
}

// poll calls fn until it returns nil or timeout (or ctx) ends, returning
// fn's last error then. A permanent error ends it at once.
func poll(ctx context.Context, timeout time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if errors.As(err, new(permanentError)) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type permanentError struct{ error }

// crashed reports, as a permanent error, a member that exited although it
// was neither closed nor killed.
func (s *groupScenario) crashed() error {
	for _, m := range s.members {
		if m.exited() && !m.ended.Load() {
			return permanentError{fmt.Errorf("%s exited unasked (%v)", m.id, m.err)}
		}
	}
	return nil
}

// assignment is what DescribeGroups says each member (by client id) owns.
type assignment map[string][]int32

// describeGroup checks that the group is Stable with exactly the members
// ids, each owning at least one partition of the topic, together all of
// them, none twice, and returns who owns what.
func (s *groupScenario) describeGroup(ctx context.Context, ids []string) (assignment, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	gs, err := s.adm.DescribeGroups(dctx, s.group)
	if err != nil {
		return nil, err
	}
	g, ok := gs[s.group]
	if !ok {
		return nil, errors.New("group not described")
	}
	if g.Err != nil {
		return nil, fmt.Errorf("describe: %v", g.Err)
	}
	got := assignment{}
	var clientIDs []string
	owner := map[int32]string{}
	for _, m := range g.Members {
		clientIDs = append(clientIDs, m.ClientID)
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range c.Topics {
				if tp.Topic != s.topic {
					continue
				}
				for _, p := range tp.Partitions {
					if o, dup := owner[p]; dup {
						return nil, fmt.Errorf("partition %d assigned to both %s and %s", p, o, m.ClientID)
					}
					owner[p] = m.ClientID
					got[m.ClientID] = append(got[m.ClientID], p)
				}
			}
		}
	}
	sort.Strings(clientIDs)
	want := slices.Clone(ids)
	sort.Strings(want)
	if g.State != "Stable" || !slices.Equal(clientIDs, want) {
		return nil, fmt.Errorf("group is %s with members %v (want Stable with %v)", g.State, clientIDs, want)
	}
	for _, id := range ids {
		if len(got[id]) == 0 {
			return nil, fmt.Errorf("%s owns no partition: %v", id, got)
		}
		slices.Sort(got[id])
	}
	if len(owner) != groupPartitions {
		return nil, fmt.Errorf("only %d of %d partitions assigned: %v", len(owner), groupPartitions, got)
	}
	return got, nil
}

func (s *groupScenario) waitGroup(ctx context.Context, t *testing.T, ids []string) assignment {
	t.Helper()
	var a assignment
	err := poll(ctx, groupJoinTimeout, func() error {
		if err := s.crashed(); err != nil {
			return err
		}
		var err error
		a, err = s.describeGroup(ctx, ids)
		return err
	})
	if err != nil {
		t.Fatalf("group never settled with %v: %v; members:%s", ids, err, s.membersState())
	}
	s.logf("group Stable: %v", a)
	return a
}

// endOffsets and committed: per partition of the topic.
func (s *groupScenario) endOffsets(ctx context.Context) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := s.adm.ListEndOffsets(ctx, s.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// committed returns the group's committed offset per partition (-1: none).
func (s *groupScenario) committed(ctx context.Context) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resps, err := s.adm.FetchOffsets(ctx, s.group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := range int32(groupPartitions) {
		out[p] = -1
		if o, ok := resps.Lookup(s.topic, p); ok {
			out[p] = o.At
		}
	}
	return out, nil
}

// waitCommitted waits until the group's committed offsets are the end
// offsets: everything was read and committed.
func (s *groupScenario) waitCommitted(ctx context.Context, t *testing.T) map[int32]int64 {
	t.Helper()
	var c map[int32]int64
	err := poll(ctx, groupCommitTimeout, func() error {
		ends, err := s.endOffsets(ctx)
		if err != nil {
			return err
		}
		if c, err = s.committed(ctx); err != nil {
			return err
		}
		for p := range int32(groupPartitions) {
			if c[p] != ends[p] {
				return fmt.Errorf("committed %v, end offsets %v", c, ends)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("commits never caught up: %v; members:%s", err, s.membersState())
	}
	s.logf("committed offsets at the end offsets: %v", c)
	return c
}

// restartAndCheckCommits restarts the broker and checks that the group's
// committed offsets are those it had before.
func (s *groupScenario) restartAndCheckCommits(ctx context.Context, t *testing.T, before map[int32]int64) {
	t.Helper()
	s.logf("restarting the broker (committed offsets %v)", before)
	if err := s.gb.restart(); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	s.logf("broker restarted")
	var after map[int32]int64
	if err := poll(ctx, 30*time.Second, func() error {
		var err error
		after, err = s.committed(ctx)
		return err
	}); err != nil {
		t.Fatalf("fetch committed offsets after the restart: %v", err)
	}
	for p := range int32(groupPartitions) {
		if after[p] != before[p] {
			t.Fatalf("committed offsets changed across the restart: before %v, after %v", before, after)
		}
	}
}

// share: three members share the partitions; each record is read once,
// by the owner of its partition.
func (s *groupScenario) share(ctx context.Context, t *testing.T) {
	ids := s.startMembers(t, "earliest", 1, 2, 3)
	before := s.waitGroup(ctx, t, ids)
	vals := s.produce(ctx, t, "A", 600)
	s.waitRead(ctx, t, "share", vals)
	owner := map[int32]string{}
	for id, ps := range before {
		for _, p := range ps {
			owner[p] = id
		}
	}
	// Were the partitions still where they were? Otherwise say so with
	// any failure below.
	note := ""
	if after, err := s.describeGroup(ctx, ids); err != nil {
		note = fmt.Sprintf(" (the group after the reads: %v)", err)
	} else if fmt.Sprint(after) != fmt.Sprint(before) {
		note = fmt.Sprintf(" (the group rebalanced meanwhile: before %v, after %v)", before, after)
	}
	perMember := map[string]int{}
	bad := 0
	for v, pos := range vals {
		reads := s.tally.readsOf(v)
		for _, r := range reads {
			perMember[r.member]++
		}
		switch {
		case len(reads) != 1:
			t.Errorf("record %s (partition %d offset %d) read %d times: %v%s", v, pos.p, pos.o, len(reads), reads, note)
			bad++
		case reads[0].member != owner[pos.p]:
			t.Errorf("record %s of partition %d read by %s, but DescribeGroups said %s owns it%s", v, pos.p, reads[0].member, owner[pos.p], note)
			bad++
		}
		if bad >= 10 {
			t.Fatal("too many errors")
		}
	}
	for _, id := range ids {
		if perMember[id] == 0 {
			t.Errorf("%s read none of the records: %v", id, perMember)
		}
	}
	s.logf("records read per member: %v", perMember)
}

// leave: member 1 leaves; its partitions move to the others.
func (s *groupScenario) leave(ctx context.Context, t *testing.T) {
	m1 := s.members[s.memberID(1)]
	began := time.Now()
	if err := m1.close(ctx); err != nil {
		t.Fatalf("close %s: %v", m1.id, err)
	}
	s.logf("%s left the group (closed in %.1fs)", m1.id, time.Since(began).Seconds())
	vals := s.produce(ctx, t, "B1", 120)
	s.waitRead(ctx, t, "after the leave", vals)
	s.logf("records produced after the leave read %.1fs after the close began", time.Since(began).Seconds())
	s.waitGroup(ctx, t, []string{s.memberID(2), s.memberID(3)})
}

// kill: member 2 is killed; once its session has expired, member 3 owns
// every partition and reads everything. The kill comes once everything
// read is committed, so member 3 must resume exactly at the committed
// offsets: no record is lost and none is read again.
func (s *groupScenario) kill(ctx context.Context, t *testing.T) {
	m2 := s.members[s.memberID(2)]
	before := s.waitCommitted(ctx, t)
	mark := s.tally.count()
	began := time.Now()
	m2.kill()
	s.logf("%s killed (SIGKILL)", m2.id)
	vals := s.produce(ctx, t, "B2", 120)
	s.waitRead(ctx, t, "after the kill", vals)
	s.logf("records produced after the kill read %.1fs after it (session timeout %d ms)", time.Since(began).Seconds(), groupSessionMS)
	s.waitGroup(ctx, t, []string{s.memberID(3)})
	for _, r := range s.tally.since(mark) {
		if r.O < before[r.P] {
			t.Errorf("%s read %s (partition %d offset %d) again after the kill, although the group had committed offset %d for the partition before it: a lost commit?",
				r.member, r.V, r.P, r.O, before[r.P])
		}
	}
}

// restartLive: the broker restarts under a running member, with every
// record read and committed: the commits survive and the member goes on.
func (s *groupScenario) restartLive(ctx context.Context, t *testing.T) {
	if !s.gb.restartable() {
		t.Skip("an external broker (EDDY_INTEROP_BROKERS) cannot be restarted")
	}
	before := s.waitCommitted(ctx, t)
	s.restartAndCheckCommits(ctx, t, before)
	vals := s.produce(ctx, t, "C", 120)
	s.waitRead(ctx, t, "after the restart", vals)
	s.waitCommitted(ctx, t)
	s.waitGroup(ctx, t, []string{s.memberID(3)})
}

// restartBacklog: the last member leaves, records are produced that nobody
// reads, the broker restarts, and new members resume exactly at the
// committed offsets.
func (s *groupScenario) restartBacklog(ctx context.Context, t *testing.T) {
	if !s.gb.restartable() {
		t.Skip("an external broker (EDDY_INTEROP_BROKERS) cannot be restarted")
	}
	m3 := s.members[s.memberID(3)]
	if err := m3.close(ctx); err != nil {
		t.Fatalf("close %s: %v", m3.id, err)
	}
	s.logf("%s left the group", m3.id)
	before := s.waitCommitted(ctx, t)
	if err := poll(ctx, groupJoinTimeout, func() error {
		gs, err := s.adm.DescribeGroups(ctx, s.group)
		if err != nil {
			return err
		}
		if g := gs[s.group]; g.State != "Empty" || len(g.Members) != 0 {
			return fmt.Errorf("group is %s with %d members", g.State, len(g.Members))
		}
		return nil
	}); err != nil {
		t.Fatalf("the group never became Empty: %v", err)
	}
	vals := s.produce(ctx, t, "D", 120)
	s.restartAndCheckCommits(ctx, t, before)
	ids := s.startMembers(t, "latest", 4, 5, 6)
	s.waitRead(ctx, t, "backlog after the restart", vals)
	// Where each partition's reads began: at its committed offset.
	first := map[int32]int64{}
	for _, r := range s.tally.all() {
		if !slices.Contains(ids, r.member) {
			continue
		}
		if o, ok := first[r.P]; !ok || r.O < o {
			first[r.P] = r.O
		}
	}
	for p := range int32(groupPartitions) {
		if first[p] != before[p] {
			t.Errorf("partition %d: the new members' reads began at offset %d, not at the committed offset %d", p, first[p], before[p])
		}
	}
	s.waitGroup(ctx, t, ids)
	s.waitCommitted(ctx, t)
	for _, id := range ids {
		if err := s.members[id].close(ctx); err != nil {
			t.Errorf("close %s: %v", id, err)
		}
	}
}

// atLeastOnce: every record produced was read, every read was of a record
// produced, where it was produced.
func (s *groupScenario) atLeastOnce(ctx context.Context, t *testing.T) {
	n, some := s.tally.missing(s.produced)
	if n > 0 {
		t.Errorf("%d of %d records produced were never read, e.g. %v", n, len(s.produced), some)
	}
	reads := s.tally.all()
	bad := 0
	for _, r := range reads {
		pos, ok := s.produced[r.V]
		if !ok || pos != (recPos{r.P, r.O}) {
			t.Errorf("%s read %q at partition %d offset %d; produced at %v (%v)", r.member, r.V, r.P, r.O, pos, ok)
			if bad++; bad > 10 {
				break
			}
		}
	}
	// Records read more than once: legitimate with at-least-once (a
	// member that processed records but had not committed them when its
	// partition moved, or when it was revoked), but listed here to see
	// where they come from.
	type key struct {
		phase, first, again string
		p                   int32
	}
	again := map[key][]int64{}
	for v := range s.produced {
		rs := s.tally.readsOf(v)
		if len(rs) < 2 {
			continue
		}
		for _, a := range rs[1:] {
			k := key{a.phase, rs[0].member, a.member, a.P}
			again[k] = append(again[k], a.O)
			if c, ok := s.tally.lastCommit(a.P, a.at); ok {
				s.logf("  %s read again by %s; the last acknowledged commit of partition %d before: offset %d by %s, %v before",
					v, a.member, a.P, c.off, c.member, a.at.Sub(c.at).Round(time.Millisecond))
			}
			// A record read again although a commit past it had been
			// acknowledged well before (a second: the members' reports
			// reach the test through pipes of their own) is one the
			// broker should not have handed out again.
			if c, ok := s.tally.lastCommit(a.P, a.at.Add(-time.Second)); ok && c.off > a.O {
				t.Errorf("%s read %s (partition %d offset %d) again in phase %s, %v after %s's commit of offset %d for the partition was acknowledged: a lost commit?",
					a.member, v, a.P, a.O, a.phase, a.at.Sub(c.at).Round(time.Millisecond), c.member, c.off)
			}
		}
	}
	keys := make([]key, 0, len(again))
	for k := range again {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		offs := again[k]
		slices.Sort(offs)
		s.logf("read again in phase %s: partition %d offsets %d..%d (%d records), first read by %s, again by %s",
			k.phase, k.p, offs[0], offs[len(offs)-1], len(offs), k.first, k.again)
	}
	s.logf("%d records produced, %d reads (%d read again after a rebalance or restart)", len(s.produced), len(reads), len(reads)-len(s.produced)+n)
}
