package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrTransactionsUnsupported is returned by Run in exactly-once mode when
// the cluster does not offer Kafka transactions.
var ErrTransactionsUnsupported = errors.New("stream: exactly-once needs Kafka transactions, which the cluster does not support (InitProducerId/AddPartitionsToTxn/EndTxn/TxnOffsetCommit)")

// AppOption configures an App.
type AppOption func(*appConfig)

type appConfig struct {
	appID          string
	seeds          []string
	stateDir       string
	policy         ErrorPolicy
	dlq            string
	exactlyOnce    bool
	commitInterval time.Duration
	log            *slog.Logger
	clientOpts     []kgo.Opt
	replication    int16
	maxBuffered    int
	stopAtEnd      bool
	from, to       int64 // bounded time range (ms); to == 0: none
	pollRecords    int
	standbys       int // standby replicas per stateful task
}

// AppID names the application: its consumer group, the prefix of its
// internal topics and of its transactional ids. Required.
func AppID(id string) AppOption { return func(c *appConfig) { c.appID = id } }

// Brokers sets the seed brokers (default 127.0.0.1:9092).
func Brokers(seeds ...string) AppOption { return func(c *appConfig) { c.seeds = seeds } }

// StateDir keeps stores in Pebble under dir (default: stores in memory;
// either way every store is restored from its changelog topic when its
// task starts).
func StateDir(dir string) AppOption { return func(c *appConfig) { c.stateDir = dir } }

// OnError sets what happens to records that fail (default DeadLetter).
func OnError(p ErrorPolicy) AppOption { return func(c *appConfig) { c.policy = p } }

// DeadLetterTopic names the dead-letter topic (default ${app}-dlq).
func DeadLetterTopic(name string) AppOption { return func(c *appConfig) { c.dlq = name } }

// ExactlyOnce processes each input record exactly once: outputs, changelog
// updates and input offsets are committed in one Kafka transaction
// (kgo.GroupTransactSession). Run fails with ErrTransactionsUnsupported if
// the cluster cannot do transactions.
func ExactlyOnce() AppOption { return func(c *appConfig) { c.exactlyOnce = true } }

// CommitInterval sets how often state is flushed and offsets committed
// (default 1s; 100ms with ExactlyOnce).
func CommitInterval(d time.Duration) AppOption { return func(c *appConfig) { c.commitInterval = d } }

// Logger sets the logger (default slog.Default()).
func Logger(l *slog.Logger) AppOption { return func(c *appConfig) { c.log = l } }

// ClientOptions adds franz-go options to every client the app makes (TLS,
// SASL, ...). The App reuses the records it fetches and produces once it
// is done with them: a hook (kgo.WithHooks) must not keep them.
func ClientOptions(opts ...kgo.Opt) AppOption {
	return func(c *appConfig) { c.clientOpts = append(c.clientOpts, opts...) }
}

// ReplicationFactor sets the replication factor of internal topics
// (default: the broker's default).
func ReplicationFactor(n int16) AppOption { return func(c *appConfig) { c.replication = n } }

// MaxBufferedRecords bounds the records waiting to be produced; processing
// waits when it is reached (default 10000).
func MaxBufferedRecords(n int) AppOption { return func(c *appConfig) { c.maxBuffered = n } }

// StopAtEnd makes Run process the records present in the input topics
// when it starts (and everything they cause in internal topics), commit,
// and return nil: a batch run over the inputs.
func StopAtEnd() AppOption { return func(c *appConfig) { c.stopAtEnd = true } }

// TimeRange makes Run process the input records with timestamps in
// [from, to) (by offsets: from the first record at or after from, up to
// the first at or after to) and return nil when done. Starting at from
// applies when the group has no committed offsets (a new AppID).
func TimeRange(from, to time.Time) AppOption {
	return func(c *appConfig) { c.from, c.to = from.UnixMilli(), to.UnixMilli() }
}

// App runs a topology against a Kafka-protocol cluster. Instances with the
// same AppID form one consumer group and split the tasks between them.
type App struct {
	top      *Topology
	cfg      appConfig
	env      *env
	log      *slog.Logger
	balancer *taskBalancer
	sb       *standbys      // warm copies of tasks' stores; nil for stateless topologies
	subOf    map[string]int // resolved non-global source topic -> sub-topology
	running  atomic.Bool

	cl    *kgo.Client
	sess  *kgo.GroupTransactSession
	adm   *kadm.Client
	admCl *kgo.Client // the client under adm

	produceErr atomic.Pointer[error]
	// killed (tests only) makes the loop stop at once, without flushing or
	// committing, as if the process died.
	killed atomic.Bool

	mu struct {
		sync.Mutex
		tasks   map[taskKey]*task
		pending map[string][]int32 // assigned partitions without a task yet
		reset   bool               // EOS: tasks must be rebuilt (transaction aborted)
	}
	stats     atomic.Pointer[[]*taskStats] // of the running tasks, for TaskMetrics
	internal  []string                     // internal topics, created by setupTopics
	bounds    bounds                       // bounded runs: the ranges of the user sources
	endReady  map[taskKey]map[string]int64 // bounded runs: tasks whose input may end, their source offsets
	marksMu   sync.Mutex
	marked    markedOffsets // bounded runs: source partitions committed with endMark
	finishing bool          // bounded runs: every input of this instance reached its stop
}

// NewApp prepares an App for top. Nothing connects until Run.
func NewApp(top *Topology, opts ...AppOption) (*App, error) {
	cfg := appConfig{seeds: []string{"127.0.0.1:9092"}, maxBuffered: 10000, replication: -1, pollRecords: 10000}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.appID == "" {
		return nil, errors.New("stream: NewApp needs AppID")
	}
	if cfg.commitInterval <= 0 {
		cfg.commitInterval = time.Second
		if cfg.exactlyOnce {
			cfg.commitInterval = 100 * time.Millisecond
		}
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.dlq == "" {
		cfg.dlq = cfg.appID + "-dlq"
	}
	a := &App{top: top, cfg: cfg, log: cfg.log.With("component", "stream", "app", cfg.appID), subOf: map[string]int{}}
	for _, g := range top.subs {
		for _, s := range g.sources {
			a.subOf[s.resolve(cfg.appID)] = g.id
		}
	}
	stateful := map[int]bool{}
	for _, g := range top.subs {
		stateful[g.id] = len(g.stores) > 0
	}
	a.balancer = newTaskBalancer(a.subOf, stateful, cfg.standbys, func() map[taskKey]int64 {
		if a.sb == nil {
			return nil
		}
		return a.sb.warm()
	})
	a.env = &env{
		appID: cfg.appID, dlq: cfg.dlq, policy: cfg.policy, log: a.log, out: a, metrics: &Metrics{},
		wallNow: func() int64 { return time.Now().UnixMilli() }, stateDir: cfg.stateDir, caching: true,
		records: newSinkRecords(),
	}
	a.mu.tasks = map[taskKey]*task{}
	a.mu.pending = map[string][]int32{}
	return a, nil
}

// numTasks returns how many tasks the instance runs.
func (a *App) numTasks() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.mu.tasks)
}

// Metrics returns the app's counters.
func (a *App) Metrics() *Metrics { return a.env.metrics }

// TaskMetrics returns a snapshot of the counters of the tasks this
// instance runs now (the global task included) and of the standby tasks
// it keeps (State TaskStandby, with their Lag), by task id. A task that
// moved to another instance or closed is not in it. It never waits for
// the tasks: safe to call at any time, e.g. from a metrics scrape.
func (a *App) TaskMetrics() []TaskStats {
	p := a.stats.Load()
	if p == nil {
		return nil
	}
	out := make([]TaskStats, len(*p))
	for i, s := range *p {
		out[i] = s.snapshot()
	}
	return out
}

// publishStats makes TaskMetrics see the current tasks. Called with a.mu
// held whenever tasks are created or closed.
func (a *App) publishStats() {
	ss := make([]*taskStats, 0, len(a.mu.tasks)+1)
	if g := a.env.global; g != nil {
		ss = append(ss, &g.stats)
	}
	for _, t := range a.mu.tasks {
		ss = append(ss, &t.stats)
	}
	if a.sb != nil {
		ss = a.sb.stats(ss)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].id < ss[j].id })
	a.stats.Store(&ss)
}

// clientOpts returns the options of a client: the seeds, extra, then the
// user's ClientOptions (which win).
func (a *App) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(a.cfg.seeds...)}
	opts = append(opts, extra...)
	return append(opts, a.cfg.clientOpts...)
}

// send implements collector: every record the tasks write.
func (a *App) send(r *kgo.Record) {
	a.cl.Produce(context.Background(), r, a.promise)
}

// promise runs when franz-go is done with a record: the sinks' records
// go back to be reused; a persistent store's changelog record gives its
// offset to the store's checkpoint.
func (a *App) promise(r *kgo.Record, err error) {
	if err != nil {
		e := fmt.Errorf("stream: producing to %s: %w", r.Topic, err)
		a.produceErr.CompareAndSwap(nil, &e)
	} else if c, ok := r.Context.(*changelogAck); ok && r.Offset >= 0 {
		c.acked(r.Offset)
	}
	a.env.records.put(r)
}

func (a *App) producedErr() error {
	if p := a.produceErr.Load(); p != nil {
		return *p
	}
	return nil
}

// partitioner places records: explicit partitions (changelogs) as given,
// keyed records by murmur2 as Kafka's producers, the rest round-robin.
func partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		var rr int
		return func(r *kgo.Record, n int) int {
			switch {
			case r.Partition >= 0:
				return int(r.Partition)
			case r.Key != nil:
				return int(partitionFor(r.Key, int32(n)))
			}
			rr++
			return rr % n
		}
	})
}

// Run runs the topology until ctx is done (then it commits and leaves the
// group: a graceful shutdown) or a fatal error. With StopAtEnd or
// TimeRange it returns nil once the bounded input is processed.
func (a *App) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("stream: App.Run called twice")
	}
	setupCl, err := kgo.NewClient(a.clientOpts()...)
	if err != nil {
		return err
	}
	a.adm = kadm.NewClient(setupCl)
	err = a.setupTopics(ctx)
	setupCl.Close()
	if err != nil {
		return err
	}
	// A fresh client: the setup client cached the internal topics as
	// missing.
	admCl, err := kgo.NewClient(a.clientOpts()...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	a.adm, a.admCl = kadm.NewClient(admCl), admCl
	if err := a.waitTopics(ctx); err != nil {
		return err
	}
	if a.cfg.exactlyOnce {
		if err := a.checkTransactions(ctx); err != nil {
			return err
		}
	}
	if err := a.setupBounds(ctx); err != nil {
		return err
	}
	var topics []string
	for t := range a.subOf {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	if slices.ContainsFunc(a.top.subs, func(g *subTopology) bool { return len(g.stores) > 0 }) {
		if err := a.startStandbys(); err != nil {
			return err
		}
		defer func() { a.sb.stop(a.killed.Load()) }()
	}
	reset := kgo.NewOffset().AtStart()
	if a.cfg.to != 0 {
		reset = kgo.NewOffset().AfterMilli(a.cfg.from)
	}
	opts := a.clientOpts(
		kgo.ConsumerGroup(a.cfg.appID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(a.balancer),
		kgo.DisableAutoCommit(),
		// Transaction markers come through (and are skipped) so that
		// committed offsets move past them: a bounded run knows it is done
		// when they reach the end offsets.
		kgo.KeepControlRecords(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(reset),
		kgo.OnPartitionsAssigned(a.onAssigned),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onLost),
		kgo.RecordPartitioner(partitioner()),
		kgo.MaxBufferedRecords(a.cfg.maxBuffered),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.WithPools(&recordSlabs{}),
	)
	if a.cfg.exactlyOnce {
		// The default transaction timeout goes first: a user's
		// ClientOptions (in opts) override it.
		opts = append([]kgo.Opt{kgo.TransactionTimeout(30 * time.Second)}, opts...)
		opts = append(opts, kgo.TransactionalID(a.cfg.appID+"-"+randomID()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets())
		if a.sess, err = kgo.NewGroupTransactSession(opts...); err != nil {
			return err
		}
		a.cl = a.sess.Client()
	} else if a.cl, err = kgo.NewClient(opts...); err != nil {
		return err
	}
	var global *task
	if a.top.global != nil {
		if global, err = a.startGlobal(ctx); err != nil {
			a.cl.Close()
			return err
		}
	}
	err = a.loop(ctx)
	if errors.Is(err, errKilled) {
		a.cl.Close()
		a.dropTasks()
		if global != nil {
			global.closeAs(true)
		}
		return err
	}
	a.shutdown(err == nil)
	if global != nil {
		global.close()
	}
	return err
}

var errKilled = errors.New("stream: killed")

func randomID() string { return fmt.Sprintf("%x", time.Now().UnixNano()) }

func (a *App) loop(ctx context.Context) error {
	inTxn := false
	lastCommit := time.Now()
	nextWall := time.Now()
	for {
		if a.killed.Load() {
			return errKilled
		}
		if ctx.Err() != nil {
			return a.commitWithTimeout(inTxn, nil)
		}
		if a.sess != nil && !inTxn {
			if err := a.sess.Begin(); err != nil {
				return fmt.Errorf("stream: beginning a transaction: %w", err)
			}
			inTxn = true
		}
		interval := a.cfg.commitInterval
		if a.finishing {
			// Bounded run, this instance's inputs all at their stop:
			// once nothing is left to process, the end moves
			// downstream at a faster pace.
			interval = min(interval, finishInterval)
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		fs := a.cl.PollRecords(pctx, a.cfg.pollRecords)
		if !a.finishing || fs.NumRecords() > 0 && len(a.endReady) == 0 {
			interval = a.cfg.commitInterval
		}
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			a.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			if isFatalFetch(err) && fetchErr == nil {
				fetchErr = fmt.Errorf("stream: fetching %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		err := a.processFetches(ctx, fs)
		recycle(fs)
		if a.bounds != nil {
			a.settleBounds()
		}
		if err == nil && time.Now().After(nextWall) {
			err = a.wallTick()
			nextWall = time.Now().Add(100 * time.Millisecond)
		}
		if err == nil && time.Since(lastCommit) >= interval {
			var marks markedOffsets
			if len(a.endReady) > 0 {
				// Bounded run: the input of these tasks ended; what
				// they emit goes out with this commit.
				marks, err = a.endInputs()
			}
			if err == nil {
				err = a.commitWithTimeout(inTxn, marks)
				inTxn = false
			}
			lastCommit = time.Now()
			if err == nil && a.bounds != nil {
				var done bool
				if err = a.probeIdle(ctx); err == nil {
					done, err = a.boundedCheck(ctx)
				}
				if done && err == nil {
					a.cl.AllowRebalance()
					return nil
				}
			}
		}
		a.cl.AllowRebalance()
		if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue // shutting down: the next turn commits and returns
		}
		if err != nil {
			return err
		}
	}
}

// commitWithTimeout commits with its own deadline: a commit (or the end of
// a transaction) is not abandoned halfway because Run's context ended.
func (a *App) commitWithTimeout(inTxn bool, marks markedOffsets) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.commit(ctx, inTxn, marks)
}

func isFatalFetch(err error) bool {
	var ke interface{ IsRetriable() bool }
	if errors.As(err, &ke) {
		return !ke.IsRetriable()
	}
	return false
}

// processFetches creates the tasks of new partitions (restoring their
// stores) and runs the records through their tasks.
func (a *App) processFetches(ctx context.Context, fs kgo.Fetches) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureTasks(ctx); err != nil {
		return err
	}
	// A task's records are taken in timestamp order across its partitions
	// (a table's updates before the stream records that come after them),
	// within what this poll returned.
	batches := map[*task][][]*kgo.Record{}
	var order []*task
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		t := a.mu.tasks[taskKey{a.subOf[p.Topic], p.Partition}]
		if t == nil {
			return // revoked while fetched
		}
		rs := p.Records
		if b := a.bounds.get(p.Topic, p.Partition); b != nil {
			rs = b.take(rs) // the records below the stop offset
		}
		if _, ok := batches[t]; !ok {
			order = append(order, t)
		}
		batches[t] = append(batches[t], rs)
	})
	began := time.Now()
	var err error
	for _, t := range order {
		if err = t.runBatch(batches[t], began); err != nil {
			break
		}
	}
	if err == nil {
		err = a.producedErr()
	}
	return err
}

// runBatch runs what one poll returned for the task, then publishes its
// record count and observes the latency since began.
func (t *task) runBatch(parts [][]*kgo.Record, began time.Time) error {
	err := processMerged(t, parts)
	t.publish()
	if err == nil {
		t.stats.observe(time.Since(began))
	}
	return err
}

// processMerged runs the records of one task's partitions through it,
// oldest timestamp first, skipping transaction markers.
func processMerged(t *task, parts [][]*kgo.Record) error {
	if len(parts) == 1 {
		for _, r := range parts[0] {
			if !r.Attrs.IsControl() {
				if err := t.process(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for {
		best := -1
		for i, rs := range parts {
			if len(rs) > 0 && (best < 0 || rs[0].Timestamp.Before(parts[best][0].Timestamp)) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r := parts[best][0]
		parts[best] = parts[best][1:]
		if r.Attrs.IsControl() {
			continue
		}
		if err := t.process(r); err != nil {
			return err
		}
	}
}

func (a *App) wallTick() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.mu.tasks {
		if err := t.wallTick(); err != nil {
			return err
		}
	}
	return nil
}

// commit flushes every task's stores, waits until everything produced is
// acknowledged, then commits the input offsets (at-least-once), or ends
// the transaction (exactly-once). The partitions of marks (tasks whose
// bounded input ended) are committed at their offsets with endMark.
func (a *App) commit(ctx context.Context, inTxn bool, marks markedOffsets) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.mu.tasks {
		if err := t.flush(); err != nil {
			return err
		}
	}
	if a.sess != nil {
		if !inTxn {
			return nil
		}
		committed, err := a.sess.End(a.markCtx(ctx, marks), kgo.TryCommit)
		if err != nil {
			return fmt.Errorf("stream: ending transaction: %w", err)
		}
		if err := a.producedErr(); err != nil {
			return err
		}
		if !committed {
			// Aborted (a rebalance): the stores of tasks that wrote in
			// the transaction hold its updates, and the consumer went
			// back to the committed offsets. Rebuild every task: those
			// without such updates keep their stores (as standbys
			// promoted at once), the others restore from the changelogs.
			a.log.Info("transaction aborted; rebuilding tasks from changelogs")
			rebuild := maps.Clone(a.mu.tasks)
			for k, t := range rebuild {
				delete(a.mu.tasks, k)
				a.mu.pending[t.sub.sources[0].resolve(a.cfg.appID)] = append(a.mu.pending[t.sub.sources[0].resolve(a.cfg.appID)], t.partition)
			}
			a.retire(rebuild, func(t *task) bool { return !t.uncommitted })
			a.publishStats()
			return nil
		}
		for _, t := range a.mu.tasks {
			t.uncommitted = false
		}
		a.checkpointTasks(a.mu.tasks)
		a.env.metrics.Commits.Add(1)
		return nil
	}
	if err := a.cl.Flush(ctx); err != nil {
		return err
	}
	if err := a.producedErr(); err != nil {
		return err
	}
	if err := a.cl.CommitUncommittedOffsets(a.markCtx(ctx, nil)); err != nil {
		return fmt.Errorf("stream: committing offsets: %w", err)
	}
	if len(marks) > 0 {
		if err := a.commitMarks(ctx, marks); err != nil {
			return err
		}
	}
	a.checkpointTasks(a.mu.tasks)
	a.env.metrics.Commits.Add(1)
	return nil
}

func (a *App) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owned := map[string][]int32{}
	for t, ps := range assigned {
		a.mu.pending[t] = append(a.mu.pending[t], ps...)
		owned[t] = append(owned[t], ps...)
	}
	for _, t := range a.mu.tasks {
		for _, s := range t.sub.sources {
			n := s.resolve(a.cfg.appID)
			owned[n] = append(owned[n], t.partition)
		}
	}
	a.balancer.setOwned(owned)
	if a.sb != nil {
		active := map[taskKey]bool{}
		for t, ps := range owned {
			for _, p := range ps {
				active[taskKey{a.subOf[t], p}] = true
			}
		}
		a.sb.update(a.balancer.assignedStandbys(), active)
		a.publishStats()
	}
	a.log.Info("partitions assigned", "partitions", assigned)
}

// onRevoked commits what was processed (at-least-once) and closes the
// tasks of the revoked partitions.
func (a *App) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log.Info("partitions revoked", "partitions", revoked)
	closing := a.tasksOf(revoked)
	// Tasks whose stores match their changelogs are kept as standbys.
	clean := func(t *task) bool { return a.sess != nil && !t.uncommitted && !a.killed.Load() }
	if a.sess == nil && len(closing) > 0 && !a.killed.Load() {
		var err error
		for _, t := range closing {
			err = errors.Join(err, t.flush())
		}
		if err == nil {
			err = cl.Flush(ctx)
		}
		if err == nil {
			err = a.producedErr()
		}
		flushed := err == nil
		clean = func(*task) bool { return flushed }
		if err == nil {
			err = cl.CommitUncommittedOffsets(a.markCtx(ctx, nil))
		}
		if err == nil {
			a.checkpointTasks(closing)
		}
		if err != nil {
			a.log.Warn("commit on revoke failed; the next owner reprocesses", "err", err)
		}
	}
	a.closeTasks(closing, revoked, clean)
}

func (a *App) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log.Warn("partitions lost", "partitions", lost)
	a.closeTasks(a.tasksOf(lost), lost, func(*task) bool { return false })
}

func (a *App) tasksOf(parts map[string][]int32) map[taskKey]*task {
	out := map[taskKey]*task{}
	for topic, ps := range parts {
		sub, ok := a.subOf[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			k := taskKey{sub, p}
			if t := a.mu.tasks[k]; t != nil {
				out[k] = t
			}
		}
	}
	return out
}

// closeTasks stops running ts: the clean ones become standbys (see
// retire), the others close.
func (a *App) closeTasks(ts map[taskKey]*task, parts map[string][]int32, clean func(*task) bool) {
	for k := range ts {
		delete(a.mu.tasks, k)
	}
	a.retire(ts, clean)
	a.publishStats()
	for topic, ps := range parts {
		drop := map[int32]bool{}
		for _, p := range ps {
			drop[p] = true
		}
		var keep []int32
		for _, p := range a.mu.pending[topic] {
			if !drop[p] {
				keep = append(keep, p)
			}
		}
		a.mu.pending[topic] = keep
	}
}

// ensureTasks creates a task for every assigned partition without one and
// restores its stores. Called with a.mu held.
func (a *App) ensureTasks(ctx context.Context) error {
	var created []*task
	for topic, ps := range a.mu.pending {
		sub, ok := a.subOf[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			k := taskKey{sub, p}
			if a.mu.tasks[k] != nil {
				continue
			}
			var warm map[string]state.Store
			var from map[string]int64
			if a.sb != nil {
				if st := a.sb.take(k); st != nil {
					warm, from = st.stores, st.pos
				}
			}
			t, err := newTaskFrom(a.env, a.top, a.top.subs[sub], p, warm)
			if err != nil {
				return err
			}
			t.restoreFrom = from
			a.mu.tasks[k] = t
			a.restartBounds(t)
			created = append(created, t)
		}
	}
	clear(a.mu.pending)
	if len(created) == 0 {
		return nil
	}
	a.publishStats()
	return a.restore(ctx, created, false)
}

// dropTasks closes the tasks of a killed instance as the end of its
// process would: nothing flushed, committed or checkpointed, and the
// persistent stores lose what Pebble had not written to its files.
func (a *App) dropTasks() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, t := range a.mu.tasks {
		t.closeAs(true)
		delete(a.mu.tasks, k)
	}
	a.stats.Store(nil)
}

// shutdown commits (when the loop ended cleanly), closes the tasks and
// leaves the group.
func (a *App) shutdown(clean bool) {
	a.mu.Lock()
	if !clean && a.sess == nil {
		// Flush what we can; offsets stay uncommitted so the records are
		// processed again.
		a.cl.Flush(context.Background())
	}
	for k, t := range a.mu.tasks {
		t.close()
		delete(a.mu.tasks, k)
	}
	a.stats.Store(nil)
	a.mu.Unlock()
	if a.sess != nil {
		a.sess.Close()
	} else {
		a.cl.Close()
	}
}
