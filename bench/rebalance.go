package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The group balancers RebalanceConfig.Balancer selects.
const (
	BalancerCooperativeSticky = "cooperative-sticky"
	BalancerSticky            = "sticky"
	BalancerRange             = "range"
	BalancerRoundRobin        = "roundrobin"
)

// Balancers lists the balancer names Rebalance accepts, default first.
var Balancers = []string{BalancerCooperativeSticky, BalancerSticky, BalancerRange, BalancerRoundRobin}

// newBalancer returns the franz-go balancer of a name.
func newBalancer(name string) (kgo.GroupBalancer, error) {
	switch strings.ToLower(name) {
	case BalancerCooperativeSticky:
		return kgo.CooperativeStickyBalancer(), nil
	case BalancerSticky:
		return kgo.StickyBalancer(), nil
	case BalancerRange:
		return kgo.RangeBalancer(), nil
	case BalancerRoundRobin, "round-robin":
		return kgo.RoundRobinBalancer(), nil
	}
	return nil, fmt.Errorf("bench: invalid balancer %q (want %s)", name, strings.Join(Balancers, ", "))
}

// RebalanceConfig parameterises Rebalance. Zero values select the
// documented defaults.
type RebalanceConfig struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string
	// Topic is the topic the group consumes. Default: a fresh topic named
	// eddy-bench-rebalance-<time>, deleted at the end unless KeepTopic. An
	// existing topic is used as it is, with its partitions.
	Topic     string
	KeepTopic bool
	// Partitions and Replicas are used when the topic is created;
	// Partitions defaults to 3 per member, Replicas to the broker
	// default. The topic needs more partitions than Members, so that every
	// member, the joining one included, is assigned some.
	Partitions int32
	Replicas   int16
	// Group is the consumer group. Default: eddy-bench-rebalance-<time>,
	// deleted at the end.
	Group string

	// Members is the number of group members in steady state. Default 10.
	Members int
	// Balancer is the group balancer of every member: cooperative-sticky
	// (default), sticky, range or roundrobin.
	Balancer string
	// Rounds is the number of rounds of membership events; each round is
	// a join, a leave, a join and a kill, so that the group is back to
	// Members members after it. Default 5.
	Rounds int
	// SessionTimeout of the members. Default 6s, the broker minimum
	// (group.min.session.timeout.ms) of Kafka and Eddy: it bounds how soon a
	// killed member is noticed.
	SessionTimeout time.Duration
	// HeartbeatInterval of the members. Default a third of SessionTimeout.
	// Members learn of a rebalance from a heartbeat, so it bounds how soon
	// they rejoin after a join or a leave.
	HeartbeatInterval time.Duration
	// RebalanceTimeout of the members; 0 selects franz-go's default (60s).
	RebalanceTimeout time.Duration

	// Rate is the steady produce rate in records/s. Default 50 per
	// partition per second. Its inverse per partition is the resolution of
	// the measurements.
	Rate float64
	// RecordSize is the value size in bytes (at least TimestampSize; the
	// first bytes carry the send time). Default 100.
	RecordSize int

	// EventTimeout bounds the wait for the group to consume again after
	// one event (and for the initial group to form). Default 2m.
	EventTimeout time.Duration

	// Progress, if set, receives one line per measured event.
	Progress io.Writer
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// ClientOpts are extra franz-go options for every client. Members dial
	// through their own dialer (to be able to kill them), so options that
	// set a dialer or TLS do not apply to them.
	ClientOpts []kgo.Opt
}

// withDefaults returns c with defaults filled in.
func (c RebalanceConfig) withDefaults() RebalanceConfig {
	stamp := time.Now().UnixNano()
	if c.Members <= 0 {
		c.Members = 10
	}
	if c.Partitions <= 0 {
		c.Partitions = int32(3 * c.Members)
	}
	if c.Replicas == 0 {
		c.Replicas = -1
	}
	if c.Group == "" {
		c.Group = fmt.Sprintf("eddy-bench-rebalance-%d", stamp)
	}
	if c.Balancer == "" {
		c.Balancer = BalancerCooperativeSticky
	}
	c.Balancer = strings.ToLower(c.Balancer)
	if c.Balancer == "round-robin" {
		c.Balancer = BalancerRoundRobin
	}
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 6 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.SessionTimeout / 3
	}
	if c.Rate <= 0 {
		c.Rate = 50 * float64(c.Partitions)
	}
	if c.RecordSize == 0 {
		c.RecordSize = 100
	}
	if c.EventTimeout <= 0 {
		c.EventTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a config with defaults applied.
func (c RebalanceConfig) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if _, err := newBalancer(c.Balancer); err != nil {
		return err
	}
	if c.RecordSize < TimestampSize {
		return fmt.Errorf("bench: record size %d is below the %d bytes of the embedded send time", c.RecordSize, TimestampSize)
	}
	if int(c.Partitions) <= c.Members {
		return fmt.Errorf("bench: %d partitions for %d members: a rebalance run needs more partitions than members", c.Partitions, c.Members)
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("bench: heartbeat interval %v is not below the session timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	return nil
}

// The kinds of membership events Rebalance measures.
const (
	EventStartup = "startup"
	EventJoin    = "join"
	EventLeave   = "leave"
	EventKill    = "kill"
)

// RebalanceEvent is one measured membership event.
type RebalanceEvent struct {
	// Kind is EventStartup, EventJoin, EventLeave or EventKill.
	Kind string
	// Members is the number of members after the event.
	Members int
	// Duration is the time from the event (the new member's NewClient,
	// the leaving member's Close, the kill) until every member had
	// consumed a record produced after the event began and every partition
	// had been consumed past that point by a live member.
	Duration time.Duration
}

// EventStats summarizes the durations of one kind of event. Quantiles are
// exact, by nearest rank over the samples.
type EventStats struct {
	Count  int
	Min    time.Duration
	Median time.Duration
	P99    time.Duration
	Max    time.Duration
	Mean   time.Duration
}

// eventStats computes the statistics of samples.
func eventStats(samples []time.Duration) EventStats {
	if len(samples) == 0 {
		return EventStats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return EventStats{
		Count:  len(s),
		Min:    s[0],
		Median: rank(0.5),
		P99:    rank(0.99),
		Max:    s[len(s)-1],
		Mean:   sum / time.Duration(len(s)),
	}
}

// RebalanceResult holds the figures of a Rebalance run.
type RebalanceResult struct {
	// The run's parameters, defaults applied.
	Topic             string
	Group             string
	Members           int
	Partitions        int32
	Balancer          string
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	Rate              float64

	// Startup is the time from creating the first of Members clients until
	// they all consume.
	Startup time.Duration
	// Join, Leave and Kill summarize the events of each kind.
	Join, Leave, Kill EventStats
	// Events lists every measured event in order, startup first.
	Events []RebalanceEvent

	// Produced and Consumed count records; ProduceErrors the records whose
	// produce failed (FirstError is the first such error).
	Produced      int64
	Consumed      int64
	ProduceErrors int64
	FirstError    error
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// samples returns the durations of the events of a kind.
func (r *RebalanceResult) samples(kind string) []time.Duration {
	var out []time.Duration
	for _, e := range r.Events {
		if e.Kind == kind {
			out = append(out, e.Duration)
		}
	}
	return out
}

// summarize fills in Startup, Join, Leave and Kill from Events.
func (r *RebalanceResult) summarize() {
	if s := r.samples(EventStartup); len(s) > 0 {
		r.Startup = s[0]
	}
	r.Join = eventStats(r.samples(EventJoin))
	r.Leave = eventStats(r.samples(EventLeave))
	r.Kill = eventStats(r.samples(EventKill))
}

// Print writes a human-readable report of r to w.
func (r *RebalanceResult) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MODE\trebalance\n")
	fmt.Fprintf(tw, "BALANCER\t%s\n", r.Balancer)
	fmt.Fprintf(tw, "MEMBERS\t%d\n", r.Members)
	fmt.Fprintf(tw, "PARTITIONS\t%d\n", r.Partitions)
	fmt.Fprintf(tw, "SESSION TIMEOUT\t%v (heartbeat interval %v)\n", r.SessionTimeout, r.HeartbeatInterval)
	fmt.Fprintf(tw, "EVENT SPACING\trandom, %v to %v after the group is Stable\n", r.HeartbeatInterval, 2*r.HeartbeatInterval)
	fmt.Fprintf(tw, "PRODUCE RATE\t%.0f records/s (one per %s per partition)\n", r.Rate,
		ms(time.Duration(float64(r.Partitions)/r.Rate*float64(time.Second))))
	fmt.Fprintf(tw, "RECORDS\t%d produced, %d consumed\n", r.Produced, r.Consumed)
	if r.ProduceErrors > 0 {
		fmt.Fprintf(tw, "ERRORS\t%d (first: %v)\n", r.ProduceErrors, r.FirstError)
	}
	fmt.Fprintf(tw, "STARTUP\t%s\n", ms(r.Startup))
	fmt.Fprintf(tw, "ELAPSED\t%s\n", r.Elapsed.Round(time.Millisecond))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tCOUNT\tMIN\tMEDIAN\tP99\tMAX\tMEAN")
	for _, e := range []struct {
		name string
		s    EventStats
	}{{EventJoin, r.Join}, {EventLeave, r.Leave}, {EventKill, r.Kill}} {
		if e.s.Count == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.name, e.s.Count,
			ms(e.s.Min), ms(e.s.Median), ms(e.s.P99), ms(e.s.Max), ms(e.s.Mean))
	}
	return tw.Flush()
}

// Rebalance measures how long a consumer group takes to consume again after
// its membership changes. It produces to the topic at a steady rate, starts
// cfg.Members franz-go group consumers and waits until they all consume;
// then, cfg.Rounds times, it starts one more member (join), closes the
// oldest (leave, which sends LeaveGroup), starts one more (join) and kills
// the oldest (its connections are cut and it never sends LeaveGroup, so the
// coordinator only notices when its session times out).
//
// Each event is timed from its start (before NewClient, Close or the kill)
// until every live member has consumed a record produced after the start
// and every partition has been consumed past the start by a live member:
// the group is consuming again, all of it. The resolution is the interval
// between records of a partition (Partitions/Rate).
//
// Before each event the run pauses for a random time between one and two
// heartbeat intervals, so that events meet the members' heartbeats in random
// phase, as real ones do. On error, the result holds the events measured so
// far.
func Rebalance(ctx context.Context, cfg RebalanceConfig) (*RebalanceResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	createTopic := cfg.Topic == ""
	if createTopic {
		cfg.Topic = fmt.Sprintf("eddy-bench-rebalance-%d", began.UnixNano())
	}

	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID("eddy-bench")}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := EnsureTopic(ctx, adm, cfg.Topic, cfg.Partitions, cfg.Replicas); err != nil {
		return nil, err
	}
	if createTopic && !cfg.KeepTopic {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := adm.DeleteTopics(dctx, cfg.Topic); err != nil {
				cfg.Logger.Warn("deleting the benchmark topic", "topic", cfg.Topic, "err", err)
			}
		}()
	}
	_, ends, err := listOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return nil, err
	}
	cfg.Partitions = int32(len(ends))
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w (topic %s exists with %d partitions)", err, cfg.Topic, len(ends))
	}

	r := &rebalanceRun{cfg: cfg, adm: adm, poke: make(chan struct{}, 1)}
	res := &RebalanceResult{
		Topic:             cfg.Topic,
		Group:             cfg.Group,
		Members:           cfg.Members,
		Partitions:        cfg.Partitions,
		Balancer:          cfg.Balancer,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		Rate:              cfg.Rate,
	}

	prodCl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("eddy-bench"),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(0),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, err
	}
	prodCtx, stopProducing := context.WithCancel(ctx)
	var prodDone sync.WaitGroup
	prodDone.Go(func() { r.produce(prodCtx, prodCl) })

	defer func() {
		r.closeAll()
		stopProducing()
		prodDone.Wait()
		prodCl.Close()
		res.Produced, res.Consumed = r.produced.Load(), r.consumed.Load()
		res.ProduceErrors = r.produceErrs.Load()
		if e := r.firstErr.Load(); e != nil {
			res.FirstError = *e
		}
		res.Elapsed = time.Since(began)
		res.summarize()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := adm.DeleteGroups(dctx, cfg.Group); err != nil {
			cfg.Logger.Warn("deleting the benchmark group", "group", cfg.Group, "err", err)
		}
	}()

	record := func(kind string, run func(context.Context) (time.Duration, error)) error {
		d, err := run(ctx)
		if err != nil {
			return err
		}
		n := r.liveCount()
		res.Events = append(res.Events, RebalanceEvent{Kind: kind, Members: n, Duration: d})
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "%-7s -> %2d members: %s\n", kind, n, ms(d))
		}
		return r.settle(ctx)
	}
	if err := record(EventStartup, r.startup); err != nil {
		return res, err
	}
	for range cfg.Rounds {
		for _, ev := range []struct {
			kind string
			run  func(context.Context) (time.Duration, error)
		}{
			{EventJoin, r.join},
			{EventLeave, r.leave},
			{EventJoin, r.join},
			{EventKill, r.kill},
		} {
			if err := r.pause(ctx); err != nil {
				return res, err
			}
			if err := record(ev.kind, ev.run); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// rebalanceRun is the state of one Rebalance run.
type rebalanceRun struct {
	cfg  RebalanceConfig
	adm  *kadm.Client
	poke chan struct{} // an event made progress

	produced    atomic.Int64
	consumed    atomic.Int64
	produceErrs atomic.Int64
	firstErr    atomic.Pointer[error]

	bg sync.WaitGroup // closes of killed members, consumer loops

	mu struct {
		sync.Mutex
		live   []*rbMember // members in the group, oldest first
		ev     *rbEvent    // the event being measured, or nil
		nextID int
	}
}

// rbMember is one group member.
type rbMember struct {
	id     int
	cl     *kgo.Client
	cancel context.CancelFunc
	sw     *killSwitch
	dead   bool // left or killed: what it consumes no longer counts; guarded by rebalanceRun.mu
}

// rbEvent is the progress of one measured event.
type rbEvent struct {
	kind       string
	start      time.Time
	startNanos int64
	members    map[*rbMember]bool // live members that consumed past start
	partitions []bool             // partitions consumed past start by a live member
	last       time.Time          // when the last of those became true
}

// liveCount returns the number of live members.
func (r *rebalanceRun) liveCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.live)
}

// beginLocked starts measuring an event now.
func (r *rebalanceRun) beginLocked(kind string) *rbEvent {
	now := time.Now()
	ev := &rbEvent{
		kind:       kind,
		start:      now,
		startNanos: now.UnixNano(),
		members:    make(map[*rbMember]bool),
		partitions: make([]bool, r.cfg.Partitions),
	}
	r.mu.ev = ev
	return ev
}

// produce writes records at the configured rate until ctx ends; each value
// starts with its send time.
func (r *rebalanceRun) produce(ctx context.Context, cl *kgo.Client) {
	filler := make([]byte, r.cfg.RecordSize-TimestampSize)
	crand.Read(filler)
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var sent int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * r.cfg.Rate)
		for ; sent < due; sent++ {
			v := make([]byte, r.cfg.RecordSize)
			binary.BigEndian.PutUint64(v, uint64(time.Now().UnixNano()))
			copy(v[TimestampSize:], filler)
			cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				switch {
				case err == nil:
					r.produced.Add(1)
				case ctx.Err() != nil:
				default:
					if r.produceErrs.Add(1) == 1 {
						r.firstErr.Store(&err)
						r.cfg.Logger.Warn("produce failed", "err", err)
					}
				}
			})
		}
	}
}

// startMember creates a member client and starts its consumer loop.
func (r *rebalanceRun) startMember() (*rbMember, error) {
	r.mu.Lock()
	r.mu.nextID++
	id := r.mu.nextID
	r.mu.Unlock()
	bal, err := newBalancer(r.cfg.Balancer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sw := &killSwitch{}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("eddy-bench-rebalance-%d", id)),
	}, r.cfg.ClientOpts...)
	opts = append(opts,
		kgo.Dialer(sw.dial),
		kgo.WithContext(ctx),
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.cfg.Topic),
		kgo.Balancers(bal),
		kgo.SessionTimeout(r.cfg.SessionTimeout),
		kgo.HeartbeatInterval(r.cfg.HeartbeatInterval),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
	)
	if r.cfg.RebalanceTimeout > 0 {
		opts = append(opts, kgo.RebalanceTimeout(r.cfg.RebalanceTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	m := &rbMember{id: id, cl: cl, cancel: cancel, sw: sw}
	r.mu.Lock()
	r.mu.live = append(r.mu.live, m)
	r.mu.Unlock()
	r.bg.Go(func() { r.consume(ctx, m) })
	return m, nil
}

// consume is a member's poll loop.
func (r *rebalanceRun) consume(ctx context.Context, m *rbMember) {
	for {
		fs := m.cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			r.cfg.Logger.Debug("fetch error", "member", m.id, "topic", t, "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			r.consumed.Add(int64(len(p.Records)))
			var latest int64
			for _, rec := range p.Records {
				if len(rec.Value) >= TimestampSize {
					latest = max(latest, int64(binary.BigEndian.Uint64(rec.Value)))
				}
			}
			r.observe(m, p.Partition, latest)
		})
	}
}

// observe notes that m consumed, from partition, a record sent at sent
// (Unix nanoseconds).
func (r *rebalanceRun) observe(m *rbMember, partition int32, sent int64) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.mu.ev
	if ev == nil || m.dead || sent < ev.startNanos {
		return
	}
	progressed := false
	if !ev.members[m] {
		ev.members[m] = true
		progressed = true
	}
	if int(partition) < len(ev.partitions) && !ev.partitions[partition] {
		ev.partitions[partition] = true
		progressed = true
	}
	if progressed {
		ev.last = now
		select {
		case r.poke <- struct{}{}:
		default:
		}
	}
}

// wait returns the duration of ev once the group consumes again: every
// live member and every partition consumed past the event's start.
func (r *rebalanceRun) wait(ctx context.Context, ev *rbEvent) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.EventTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		var members []int
		for _, m := range r.mu.live {
			if !ev.members[m] {
				members = append(members, m.id)
			}
		}
		var parts []int
		for p, ok := range ev.partitions {
			if !ok {
				parts = append(parts, p)
			}
		}
		last := ev.last
		r.mu.Unlock()
		if len(members) == 0 && len(parts) == 0 {
			return last.Sub(ev.start), nil
		}
		select {
		case <-r.poke:
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: %s: the group did not consume again within %v: members %v have not consumed a record produced since, partitions %v have not been consumed since: %w",
				ev.kind, r.cfg.EventTimeout, members, parts, ctx.Err())
		}
	}
}

// settle ends the current event and waits until the coordinator reports
// the group Stable with the live members, so that the next event starts
// from a settled group.
func (r *rebalanceRun) settle(ctx context.Context) error {
	r.mu.Lock()
	r.mu.ev = nil
	want := len(r.mu.live)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.EventTimeout)
	defer cancel()
	var last string
	for {
		gs, err := r.adm.DescribeGroups(ctx, r.cfg.Group)
		if g, ok := gs[r.cfg.Group]; ok && err == nil {
			if g.State == "Stable" && len(g.Members) == want {
				return nil
			}
			last = fmt.Sprintf("%s with %d members", g.State, len(g.Members))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: group %s not Stable with %d members within %v (last seen: %s): %w",
				r.cfg.Group, want, r.cfg.EventTimeout, last, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pause waits a random time between one and two heartbeat intervals.
// Every member restarts its heartbeat timer when a rebalance completes (and
// franz-go's cooperative members send one extra heartbeat 500ms after it),
// so an event started right after the previous one would always meet the
// members' heartbeats in the same phase; real events do not.
func (r *rebalanceRun) pause(ctx context.Context) error {
	hb := r.cfg.HeartbeatInterval
	t := time.NewTimer(hb + rand.N(hb))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// startup starts Members members and measures until they all consume.
func (r *rebalanceRun) startup(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	ev := r.beginLocked(EventStartup)
	r.mu.Unlock()
	for range r.cfg.Members {
		if _, err := r.startMember(); err != nil {
			return 0, err
		}
	}
	return r.wait(ctx, ev)
}

// join starts one more member.
func (r *rebalanceRun) join(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	ev := r.beginLocked(EventJoin)
	r.mu.Unlock()
	if _, err := r.startMember(); err != nil {
		return 0, err
	}
	return r.wait(ctx, ev)
}

// removeOldestLocked takes the oldest member out of the live members.
func (r *rebalanceRun) removeOldestLocked() *rbMember {
	m := r.mu.live[0]
	r.mu.live = r.mu.live[1:]
	m.dead = true
	return m
}

// leave closes the oldest member, which leaves the group.
func (r *rebalanceRun) leave(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	m := r.removeOldestLocked()
	ev := r.beginLocked(EventLeave)
	r.mu.Unlock()
	m.cl.Close()
	m.cancel()
	return r.wait(ctx, ev)
}

// kill cuts the oldest member off without a LeaveGroup: its connections
// are closed and new ones refused, and its client context is cancelled
// before it is closed, so the coordinator only notices the session timing
// out.
func (r *rebalanceRun) kill(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	m := r.removeOldestLocked()
	ev := r.beginLocked(EventKill)
	r.mu.Unlock()
	m.sw.kill()
	m.cancel()
	r.bg.Go(m.cl.Close)
	return r.wait(ctx, ev)
}

// closeAll closes every live member and waits for the background work.
func (r *rebalanceRun) closeAll() {
	r.mu.Lock()
	live := r.mu.live
	r.mu.live = nil
	r.mu.ev = nil
	for _, m := range live {
		m.dead = true
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range live {
		wg.Go(func() {
			m.cl.Close()
			m.cancel()
		})
	}
	wg.Wait()
	r.bg.Wait()
}

// errKilled is the dial error of a killed member.
var errKilled = errors.New("bench: member killed")

// killSwitch dials TCP connections and can cut them all at once, refusing
// new ones from then on, as if the process had died.
type killSwitch struct {
	d  net.Dialer
	mu struct {
		sync.Mutex
		killed bool
		conns  []net.Conn
	}
}

// dial is a kgo dialer.
func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	killed := k.mu.killed
	k.mu.Unlock()
	if killed {
		return nil, errKilled
	}
	c, err := k.d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mu.killed {
		c.Close()
		return nil, errKilled
	}
	k.mu.conns = append(k.mu.conns, c)
	return c, nil
}

// kill closes every connection and refuses new ones.
func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.mu.killed = true
	for _, c := range k.mu.conns {
		c.Close()
	}
	k.mu.conns = nil
}
