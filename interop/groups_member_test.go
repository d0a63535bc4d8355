package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A group member is one consumer of a consumer group, always a process of
// its own, so that killing it (SIGKILL) is a real crash: no LeaveGroup, no
// last commit, its TCP connections dropped by the kernel.
//
//   - kcat -G (librdkafka's balanced consumer) as it is;
//   - py/group_member.py for kafka-python and confluent-kafka;
//   - js/group_member.js for kafkajs;
//   - this test binary itself, run as TestGroupHelperProcess, for the Go
//     clients (sarama, franz-go, kafka-go).
//
// Every member but kcat speaks the same protocol: the member's
// configuration (memberSpec) as JSON, one JSON event per line on stdout
// (memberEvent), and "close" on stdin, or its end, to leave the group
// cleanly and exit 0. kcat prints records with -f and closes on SIGTERM.

type memberSpec struct {
	Client    string `json:"client"`
	Bootstrap string `json:"bootstrap"`
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	ClientID  string `json:"client_id"`
	Reset     string `json:"reset"`    // "earliest" or "latest": where a partition without a committed offset starts
	Assignor  string `json:"assignor"` // "range", "cooperative-sticky"; kafkajs: its own round robin
	SessionMS int    `json:"session_timeout_ms"`
}

type memberEvent struct {
	Ev         string      `json:"ev"` // assigned, revoked, lost, recs, committed, error, closed
	Partitions []int32     `json:"partitions,omitempty"`
	Recs       []memberRec `json:"recs,omitempty"`
	// Offsets, of "committed": the offsets (next to read) per partition
	// that the broker acknowledged.
	Offsets map[int32]int64 `json:"offsets,omitempty"`
	Msg     string          `json:"msg,omitempty"`
}

// memberRec is a record a member processed: partition, offset, value.
type memberRec struct {
	P int32  `json:"p"`
	O int64  `json:"o"`
	V string `json:"v"`
}

// member is one running member process.
type member struct {
	id  string // its client.id, which DescribeGroups reports
	cmd *exec.Cmd
	// stdin takes "close"; nil for kcat, which closes on SIGTERM.
	stdin   io.WriteCloser
	stderr  *tailBuffer
	logFile *os.File      // nil unless EDDY_INTEROP_GROUP_LOGDIR
	done    chan struct{} // closed once the process has exited and its output is read
	err     error         // how it exited, once done

	ended atomic.Bool // the test closed or killed it

	mu     sync.Mutex
	closed bool // it reported a clean close
	errs   []string
}

// startMember starts a member of the group client gc. Every record it
// processes goes to sink and every commit it reports to commits, in the
// order it reports them. The caller must kill it (kill) when the test
// ends.
func startMember(gc *groupClient, spec memberSpec, sink func(member string, recs []memberRec), commits func(member string, offsets map[int32]int64), logf func(format string, args ...any)) (_ *member, err error) {
	spec.Client = gc.client
	dir, argv, env, err := gc.command(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if dir != "" {
		if cmd.Dir, err = filepath.Abs(dir); err != nil {
			return nil, err
		}
	}
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"), env...)
	m := &member{id: spec.ClientID, cmd: cmd, stderr: &tailBuffer{max: 8000}, done: make(chan struct{})}
	cmd.Stderr = m.stderr
	if dir := os.Getenv("EDDY_INTEROP_GROUP_LOGDIR"); dir != "" {
		// The whole stderr of every member, for debugging.
		f, err := os.Create(filepath.Join(dir, spec.ClientID+".stderr"))
		if err != nil {
			return nil, err
		}
		cmd.Stderr = io.MultiWriter(m.stderr, f)
		m.logFile = f
		defer func() {
			if err != nil {
				f.Close()
			}
		}()
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if !gc.kcat {
		if m.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if gc.kcat {
				r, err := parseKcatGroupLine(line)
				if err != nil {
					m.addErr(err.Error())
					continue
				}
				sink(m.id, []memberRec{r})
				continue
			}
			if len(line) == 0 || line[0] != '{' {
				continue // not an event (none is expected)
			}
			var ev memberEvent
			if err := json.Unmarshal(line, &ev); err != nil {
				m.addErr(fmt.Sprintf("bad event %.200q: %v", line, err))
				continue
			}
			switch ev.Ev {
			case "recs":
				sink(m.id, ev.Recs)
			case "committed":
				commits(m.id, ev.Offsets)
			case "closed":
				m.mu.Lock()
				m.closed = true
				m.mu.Unlock()
			case "error":
				m.addErr(ev.Msg)
				logf("%s: %s", m.id, ev.Msg)
			default:
				logf("%s: %s %v", m.id, ev.Ev, ev.Partitions)
			}
		}
		io.Copy(io.Discard, stdout)
		m.err = cmd.Wait()
		if m.logFile != nil {
			m.logFile.Close()
		}
	}()
	return m, nil
}

func (m *member) addErr(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) < 50 {
		m.errs = append(m.errs, s)
	}
}

// close asks the member to leave the group and waits for it to exit; it
// fails when the member does not exit cleanly in time.
func (m *member) close(ctx context.Context) error {
	m.ended.Store(true)
	if m.stdin != nil {
		io.WriteString(m.stdin, "close\n")
		m.stdin.Close()
	} else {
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-m.done:
	case <-ctx.Done():
		m.kill()
		return fmt.Errorf("%s did not exit within 30 s of being asked to close; stderr: %s", m.id, m.stderr.String())
	}
	if m.err != nil {
		return fmt.Errorf("%s exited with %v; stderr: %s", m.id, m.err, m.stderr.String())
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if m.stdin != nil && !closed {
		return fmt.Errorf("%s exited without reporting a clean close; stderr: %s", m.id, m.stderr.String())
	}
	return nil
}

// kill ends the member with SIGKILL (if it still runs) and waits for it.
func (m *member) kill() {
	m.ended.Store(true)
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Kill()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
	}
}

func (m *member) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *member) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.id
	if m.exited() {
		s += fmt.Sprintf(" (exited: %v)", m.err)
	}
	if len(m.errs) > 0 {
		s += fmt.Sprintf("; reported: %q", m.errs)
	}
	if e := m.stderr.String(); e != "" {
		s += "; stderr: " + e
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (tb *tailBuffer) Write(p []byte) (int, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.b = append(tb.b, p...)
	if len(tb.b) > tb.max {
		tb.b = append([]byte(nil), tb.b[len(tb.b)-tb.max:]...)
	}
	return len(p), nil
}

func (tb *tailBuffer) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return strings.TrimSpace(string(tb.b))
}

// ---- kcat -G ----

// kcatGroupFormat prints "partition offset value" per record; the test's
// values are short ASCII words.
const kcatGroupFormat = `%p %o %s\n`

func kcatGroupCommand(spec memberSpec) (string, []string, []string, error) {
	// -E: kcat exits on errors such as "all brokers down" otherwise,
	// which a broker restart causes.
	argv := []string{"kcat", "-G", spec.Group, "-b", spec.Bootstrap, "-u", "-E", "-f", kcatGroupFormat,
		"-X", "client.id=" + spec.ClientID,
		"-X", "session.timeout.ms=" + strconv.Itoa(spec.SessionMS),
		"-X", "heartbeat.interval.ms=1000",
		"-X", "max.poll.interval.ms=30000",
		"-X", "auto.offset.reset=" + spec.Reset,
		"-X", "partition.assignment.strategy=" + spec.Assignor,
		// kcat commits with librdkafka's auto-commit: each offset is
		// stored when the record is handed to kcat, which prints it
		// before it polls again; the stored offsets are committed every
		// 500 ms and on close.
		"-X", "enable.auto.commit=true",
		"-X", "auto.commit.interval.ms=500",
		"-X", "fetch.wait.max.ms=100",
		"-X", "reconnect.backoff.max.ms=1000",
		spec.Topic}
	return "", argv, nil, nil
}

func parseKcatGroupLine(line []byte) (memberRec, error) {
	f := strings.Fields(string(line))
	if len(f) != 3 {
		return memberRec{}, fmt.Errorf("kcat: bad output line %.200q", line)
	}
	p, err1 := strconv.ParseInt(f[0], 10, 32)
	o, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return memberRec{}, fmt.Errorf("kcat: bad output line %.200q: %v", line, err)
	}
	return memberRec{P: int32(p), O: o, V: f[2]}, nil
}

// ---- Python and Node scripts ----

func pyGroupCommand(spec memberSpec) (string, []string, []string, error) {
	b, err := json.Marshal(spec)
	return "py", []string{pythonBin(), "group_member.py", string(b)}, nil, err
}

func jsGroupCommand(spec memberSpec) (string, []string, []string, error) {
	b, err := json.Marshal(spec)
	return "js", []string{"node", "group_member.js", string(b)}, nil, err
}

// ---- Go clients, in a process of their own: this test binary ----

const groupHelperEnv = "EDDY_INTEROP_GROUP_MEMBER"

func goGroupCommand(spec memberSpec) (string, []string, []string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", nil, nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	return "", []string{exe, "-test.run=^TestGroupHelperProcess$", "-test.count=1", "-test.timeout=0"},
		[]string{groupHelperEnv + "=" + string(b)}, nil
}

// TestGroupHelperProcess is not a test: TestGroup runs this test binary
// with EDDY_INTEROP_GROUP_MEMBER set to run one Go group member in a process
// of its own (see goGroupCommand).
func TestGroupHelperProcess(t *testing.T) {
	cfg := os.Getenv(groupHelperEnv)
	if cfg == "" {
		t.Skip("helper process of TestGroup")
	}
	var spec memberSpec
	if err := json.Unmarshal([]byte(cfg), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// stop ends when stdin says "close" or ends.
	stop, cancel := context.WithCancel(context.Background())
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() && strings.TrimSpace(sc.Text()) != "close" {
		}
		cancel()
	}()
	out := &eventWriter{w: bufio.NewWriter(os.Stdout)}
	var err error
	switch spec.Client {
	case "franz-go":
		err = franzGroupMember(stop, spec, out)
	case "sarama":
		err = saramaGroupMember(stop, spec, out)
	case "kafka-go":
		err = kafkaGoGroupMember(stop, spec, out)
	default:
		err = fmt.Errorf("unknown client %q", spec.Client)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, spec.Client, "member:", err)
		os.Exit(1)
	}
	out.emit(memberEvent{Ev: "closed"})
	os.Exit(0)
}

type eventWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (e *eventWriter) emit(ev memberEvent) {
	b, _ := json.Marshal(ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w.Write(b)
	e.w.WriteByte('\n')
	e.w.Flush()
}

func partitionsOf(m map[string][]int32, topic string) []int32 { return m[topic] }

// franzGroupMember polls with rebalances blocked, processes (emits) the
// records, commits them synchronously, then allows rebalances again.
func franzGroupMember(stop context.Context, spec memberSpec, out *eventWriter) error {
	var balancer kgo.GroupBalancer
	switch spec.Assignor {
	case "range":
		balancer = kgo.RangeBalancer()
	case "cooperative-sticky":
		balancer = kgo.CooperativeStickyBalancer()
	default:
		return fmt.Errorf("unknown assignor %q", spec.Assignor)
	}
	reset := kgo.NewOffset().AtStart()
	if spec.Reset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(splitAddrs(spec.Bootstrap)...),
		kgo.ClientID(spec.ClientID),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(spec.Topic),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(time.Duration(spec.SessionMS)*time.Millisecond),
		kgo.HeartbeatInterval(time.Second),
		kgo.RebalanceTimeout(30*time.Second),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out.emit(memberEvent{Ev: "assigned", Partitions: partitionsOf(m, spec.Topic)})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out.emit(memberEvent{Ev: "revoked", Partitions: partitionsOf(m, spec.Topic)})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out.emit(memberEvent{Ev: "lost", Partitions: partitionsOf(m, spec.Topic)})
		}),
	)
	if err != nil {
		return err
	}
	for stop.Err() == nil {
		pctx, cancel := context.WithTimeout(stop, 200*time.Millisecond)
		fs := cl.PollRecords(pctx, 500)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				out.emit(memberEvent{Ev: "error", Msg: fmt.Sprintf("fetch %s/%d: %v", topic, p, err)})
			}
		})
		recs := fs.Records()
		if len(recs) > 0 {
			ev := memberEvent{Ev: "recs"}
			for _, r := range recs {
				ev.Recs = append(ev.Recs, memberRec{P: r.Partition, O: r.Offset, V: string(r.Value)})
			}
			out.emit(ev) // processed
			cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := cl.CommitRecords(cctx, recs...); err != nil {
				out.emit(memberEvent{Ev: "error", Msg: "commit: " + err.Error()})
			} else {
				offs := map[int32]int64{}
				for _, r := range recs {
					offs[r.Partition] = max(offs[r.Partition], r.Offset+1)
				}
				out.emit(memberEvent{Ev: "committed", Offsets: offs})
			}
			cancel()
		}
		cl.AllowRebalance()
	}
	cl.CloseAllowingRebalance() // leaves the group
	return nil
}

// saramaGroupMember marks each message after processing (emitting) it and
// commits synchronously whenever it has drained what was fetched.
func saramaGroupMember(stop context.Context, spec memberSpec, out *eventWriter) error {
	sarama.Logger = log.New(io.Discard, "", 0)
	cfg := sarama.NewConfig()
	cfg.ClientID = spec.ClientID
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = time.Duration(spec.SessionMS) * time.Millisecond
	cfg.Consumer.Group.Heartbeat.Interval = time.Second
	cfg.Consumer.Group.Rebalance.Timeout = 30 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 500 * time.Millisecond
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	if spec.Reset == "latest" {
		cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	switch spec.Assignor {
	case "range":
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	case "cooperative-sticky":
		return errors.New("sarama has no cooperative-sticky balancer")
	default:
		return fmt.Errorf("unknown assignor %q", spec.Assignor)
	}
	g, err := sarama.NewConsumerGroup(splitAddrs(spec.Bootstrap), spec.Group, cfg)
	if err != nil {
		return err
	}
	go func() {
		for err := range g.Errors() {
			out.emit(memberEvent{Ev: "error", Msg: err.Error()})
		}
	}()
	h := saramaHandler{out: out, topic: spec.Topic}
	for stop.Err() == nil {
		if err := g.Consume(stop, []string{spec.Topic}, h); err != nil && stop.Err() == nil {
			out.emit(memberEvent{Ev: "error", Msg: "consume: " + err.Error()})
			select {
			case <-stop.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return g.Close() // leaves the group
}

type saramaHandler struct {
	out   *eventWriter
	topic string
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.out.emit(memberEvent{Ev: "assigned", Partitions: s.Claims()[h.topic]})
	return nil
}

func (h saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.out.emit(memberEvent{Ev: "revoked", Partitions: s.Claims()[h.topic]})
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	var batch []memberRec
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, memberRec{P: m.Partition, O: m.Offset, V: string(m.Value)})
			s.MarkMessage(m, "")
			if len(c.Messages()) == 0 || len(batch) >= 500 {
				h.out.emit(memberEvent{Ev: "recs", Recs: batch}) // processed
				batch = nil
				s.Commit()
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// kafkaGoGroupMember fetches a message, processes (emits) it and commits
// it synchronously (CommitInterval 0).
func kafkaGoGroupMember(stop context.Context, spec memberSpec, out *eventWriter) error {
	if spec.Assignor != "range" {
		return fmt.Errorf("unsupported assignor %q", spec.Assignor)
	}
	start := kafkago.FirstOffset
	if spec.Reset == "latest" {
		start = kafkago.LastOffset
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           splitAddrs(spec.Bootstrap),
		GroupID:           spec.Group,
		GroupTopics:       []string{spec.Topic},
		Dialer:            &kafkago.Dialer{ClientID: spec.ClientID, Timeout: 5 * time.Second},
		GroupBalancers:    []kafkago.GroupBalancer{kafkago.RangeGroupBalancer{}},
		SessionTimeout:    time.Duration(spec.SessionMS) * time.Millisecond,
		HeartbeatInterval: time.Second,
		RebalanceTimeout:  30 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       start,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		// kafka-go asks the broker to wait MaxWait less a quarter (or a
		// second) and gives up reading the response at MaxWait: leave it
		// room on a loaded machine.
		MaxWait:        time.Second,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: 500 * time.Millisecond,
		Logger: kafkago.LoggerFunc(func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		}),
		ErrorLogger: kafkago.LoggerFunc(func(format string, args ...any) {
			out.emit(memberEvent{Ev: "error", Msg: fmt.Sprintf(format, args...)})
		}),
	})
	for {
		m, err := r.FetchMessage(stop)
		if err != nil {
			if stop.Err() != nil {
				break
			}
			out.emit(memberEvent{Ev: "error", Msg: "fetch: " + err.Error()})
			continue
		}
		out.emit(memberEvent{Ev: "recs", Recs: []memberRec{{P: int32(m.Partition), O: m.Offset, V: string(m.Value)}}}) // processed
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := r.CommitMessages(cctx, m); err != nil {
			out.emit(memberEvent{Ev: "error", Msg: "commit: " + err.Error()})
		} else {
			out.emit(memberEvent{Ev: "committed", Offsets: map[int32]int64{int32(m.Partition): m.Offset + 1}})
		}
		cancel()
	}
	return r.Close() // leaves the group
}
