package txn

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
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
//	config max-timeout=15m expiration=168h offsets-partitions=1 coord-epoch=0
//	                        (re)creates the coordinator, with an empty log
//	init id=a timeout=60s v=5 pid=N epoch=N     (no id=: idempotent)
//	add id=a pid=N epoch=N v=3 parts=(t:0:1, u:0)
//	add-batch v=4 txns=(a/pid/epoch=t:0:1;u:0, b/pid/epoch/verify=t:0)
//	offsets id=a pid=N epoch=N group=g v=3
//	end id=a pid=N epoch=N commit|abort v=3
//	describe ids=(a,b)
//	list states=(Ongoing) pids=(1000) duration=5s v=1
//	markers-written id=a [pid=N epoch=N]  reports the markers of a written
//	                        (by default those last asked for)
//	write-markers           writes every marker asked for and reports them
//	tick +5s                advances the clock and calls Tick
//	advance +5s             advances the clock only
//	crash [lose=N]          rebuilds the coordinator from the log (minus its
//	                        last N records, never made durable) and Recovers;
//	                        markers asked for before are forgotten
//	log id=a pid=N epoch=N state=Empty timeout=60s parts=(t:0) start=-5s
//	    update=-1s prev-pid=N v=0 [tombstone]
//	                        appends a hand-made record to the log (times
//	                        relative to now; no start= is -1), for crash
//	alloc-fail [n=1]        the next n producer id allocations fail
//	in-txn pid=N epoch=N tp=t:0   IsPartitionInTxn
//	producer id=a           Producer
//	state                   every transactional id, with its deadline
//	deadline                NextDeadline
//
// Every request gets a label (as=, or r1, r2, ...), shown with its reply.
// Each command prints the records written (decoded), the replies and the
// markers asked for. The pid= and epoch= of a request default to the
// transactional id's current ones.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			h.t = t
			return h.run(td)
		})
	})
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type harness struct {
	t         *testing.T
	cfg       Config
	c         *Coordinator
	now       time.Time
	log       []Record
	nextPID   int64
	allocFail int
	reqs      int
	asked     map[string]Markers // the markers last asked for, by transactional id
	edited    bool               // the log has hand-made records
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: t0, nextPID: 1000, asked: map[string]Markers{}}
	h.setConfig(DefaultConfig())
	return h
}

func (h *harness) allocate() (int64, error) {
	if h.allocFail > 0 {
		h.allocFail--
		return 0, errors.New("injected allocation failure")
	}
	pid := h.nextPID
	h.nextPID++
	return pid, nil
}

func (h *harness) setConfig(cfg Config) {
	cfg.AllocateProducerID = h.allocate
	c, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.cfg, h.c = cfg, c
}

func (h *harness) run(td *datadriven.TestData) string {
	var b strings.Builder
	switch td.Cmd {
	case "config":
		cfg := DefaultConfig()
		for _, a := range td.CmdArgs {
			v := a.Vals[0]
			switch a.Key {
			case "max-timeout":
				cfg.TransactionMaxTimeout = dur(td, v)
			case "expiration":
				cfg.TransactionalIDExpiration = dur(td, v)
			case "offsets-partitions":
				cfg.OffsetsTopicPartitions = int32(atoi(td, v))
			case "coord-epoch":
				cfg.CoordinatorEpoch = int32(atoi(td, v))
			default:
				td.Fatalf(h.t, "unknown config %s", a.Key)
			}
		}
		h.setConfig(cfg)
		h.log = nil
		clear(h.asked)
		return "ok"

	case "tick":
		if len(td.CmdArgs) != 1 {
			td.Fatalf(h.t, "tick +duration")
		}
		h.now = h.now.Add(dur(td, strings.TrimPrefix(td.CmdArgs[0].Key, "+")))
		fmt.Fprintf(&b, "now %s\n", fmtTime(h.now))
		h.output(&b, h.c.Tick(h.now))

	case "advance":
		if len(td.CmdArgs) != 1 {
			td.Fatalf(h.t, "advance +duration")
		}
		h.now = h.now.Add(dur(td, strings.TrimPrefix(td.CmdArgs[0].Key, "+")))
		return fmt.Sprintf("now %s", fmtTime(h.now))

	case "crash":
		lose := h.int(td, "lose", 0)
		if lose > len(h.log) {
			td.Fatalf(h.t, "only %d records", len(h.log))
		}
		before := h.c.Transactions()
		h.log = h.log[:len(h.log)-lose]
		clear(h.asked)
		h.setConfig(h.cfg)
		for _, r := range h.log {
			if err := h.c.Restore(r.Key, r.Value); err != nil {
				td.Fatalf(h.t, "restore: %v", err)
			}
		}
		fmt.Fprintf(&b, "replayed %d records\n", len(h.log))
		if lose == 0 && !h.edited {
			// Nothing lost: the log holds everything but the groups.
			after := h.c.Transactions()
			for _, ds := range [][]Description{before, after} {
				for i := range ds {
					ds[i].Groups = nil
					ds[i].Start = ds[i].Start.Truncate(time.Millisecond).UTC()
					ds[i].LastUpdate = ds[i].LastUpdate.Truncate(time.Millisecond).UTC()
				}
			}
			if !reflect.DeepEqual(before, after) {
				h.t.Errorf("%s: restored state differs:\nbefore %+v\nafter  %+v", td.Pos, before, after)
			}
		}
		h.edited = false
		h.output(&b, h.c.Recover(h.now))

	case "log":
		st, ok := ParseState(h.str(td, "state", "Empty"))
		if !ok {
			td.Fatalf(h.t, "unknown state")
		}
		v := kmsg.NewTxnMetadataValue()
		v.Version = int16(h.int(td, "v", 0))
		v.ProducerID = int64(h.int(td, "pid", 0))
		v.ProducerEpoch = int16(h.int(td, "epoch", 0))
		v.TimeoutMillis = int32(h.dur(td, "timeout", time.Minute) / time.Millisecond)
		v.State = kmsg.TransactionState(st)
		v.PreviousProducerID = int64(h.int(td, "prev-pid", -1))
		for _, tv := range h.list(td, "parts") {
			fields := strings.Split(tv, ":")
			vt := kmsg.NewTxnMetadataValueTopic()
			vt.Topic = fields[0]
			for _, p := range fields[1:] {
				vt.Partitions = append(vt.Partitions, int32(atoi(td, p)))
			}
			v.Topics = append(v.Topics, vt)
		}
		v.StartTimestamp = -1
		if td.HasArg("start") {
			v.StartTimestamp = h.now.Add(h.dur(td, "start", 0)).UnixMilli()
		}
		v.LastUpdateTimestamp = h.now.Add(h.dur(td, "update", 0)).UnixMilli()
		r := Record{Key: txnKey(h.str(td, "id", "a")), Value: v.AppendTo(nil)}
		if td.HasArg("tombstone") {
			r.Value = nil
		}
		h.log = append(h.log, r)
		h.edited = true
		return fmt.Sprintf("log has %d records", len(h.log))

	case "alloc-fail":
		h.allocFail = h.int(td, "n", 1)
		return "ok"

	case "markers-written":
		id := h.str(td, "id", "a")
		m, ok := h.asked[id]
		pid, epoch := m.ProducerID, m.ProducerEpoch
		if td.HasArg("pid") || td.HasArg("epoch") {
			pid, epoch = int64(h.int(td, "pid", 0)), int16(h.int(td, "epoch", 0))
		} else if !ok {
			td.Fatalf(h.t, "no markers asked for %s", id)
		}
		if ok && pid == m.ProducerID && epoch == m.ProducerEpoch {
			delete(h.asked, id)
		}
		h.output(&b, h.c.MarkersWritten(h.now, id, pid, epoch))

	case "write-markers":
		ids := make([]string, 0, len(h.asked))
		for id := range h.asked {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if len(ids) == 0 {
			b.WriteString("no markers asked for\n")
		}
		for _, id := range ids {
			m := h.asked[id]
			delete(h.asked, id)
			fmt.Fprintf(&b, "wrote %s\n", fmtMarkers(m))
			h.output(&b, h.c.MarkersWritten(h.now, id, m.ProducerID, m.ProducerEpoch))
		}

	case "in-txn":
		topic, part := splitTP(td, h.str(td, "tp", "t:0"))
		pid, epoch := h.pidEpoch(td, "")
		return fmt.Sprint(h.c.IsPartitionInTxn(pid, epoch, topic, part))

	case "producer":
		pid, epoch, ok := h.c.Producer(h.str(td, "id", "a"))
		if !ok {
			return "unknown"
		}
		return fmt.Sprintf("pid=%d epoch=%d", pid, epoch)

	case "state":
		for _, t := range h.c.sorted() {
			fmt.Fprintf(&b, "%s\n", h.fmtState(t))
		}
		if b.Len() == 0 {
			return "no transactional ids"
		}
		return b.String()

	case "deadline":
		if at, ok := h.c.NextDeadline(); ok {
			return fmtTime(at)
		}
		return "none"

	default:
		req := h.request(td)
		label := h.str(td, "as", "")
		if label == "" {
			h.reqs++
			label = fmt.Sprintf("r%d", h.reqs)
		}
		out, ok := h.c.Handle(h.now, req, label)
		if !ok {
			td.Fatalf(h.t, "not handled")
		}
		h.output(&b, out)
		n := 0
		for _, r := range out.Replies {
			if r.To == label {
				n++
			}
		}
		if n != 1 {
			h.t.Errorf("%s: %d replies to %s", td.Pos, n, label)
		}
	}
	if err := h.c.checkInvariants(); err != nil {
		h.t.Errorf("%s: invariant: %v", td.Pos, err)
	}
	if b.Len() == 0 {
		return "nothing\n"
	}
	return b.String()
}

// pidEpoch returns the pid= and epoch= arguments, defaulting to the
// current ones of the transactional id.
func (h *harness) pidEpoch(td *datadriven.TestData, id string) (int64, int16) {
	pid, epoch, _ := h.c.Producer(id)
	if td.HasArg("pid") {
		pid = int64(h.int(td, "pid", 0))
	}
	if td.HasArg("epoch") {
		epoch = int16(h.int(td, "epoch", 0))
	}
	return pid, epoch
}

func (h *harness) request(td *datadriven.TestData) kmsg.Request {
	id := h.str(td, "id", "a")
	switch td.Cmd {
	case "init":
		r := kmsg.NewPtrInitProducerIDRequest()
		r.Version = int16(h.int(td, "v", 5))
		if td.HasArg("id") {
			r.TransactionalID = kmsg.StringPtr(id)
		}
		r.TransactionTimeoutMillis = int32(h.dur(td, "timeout", time.Minute) / time.Millisecond)
		if td.HasArg("pid") {
			r.ProducerID = int64(h.int(td, "pid", 0))
		}
		if td.HasArg("epoch") {
			r.ProducerEpoch = int16(h.int(td, "epoch", 0))
		}
		return r
	case "add":
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.Version = int16(h.int(td, "v", 3))
		r.TransactionalID = id
		r.ProducerID, r.ProducerEpoch = h.pidEpoch(td, id)
		for _, v := range h.list(td, "parts") {
			fields := strings.Split(v, ":")
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic = fields[0]
			for _, p := range fields[1:] {
				rt.Partitions = append(rt.Partitions, int32(atoi(td, p)))
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	case "add-batch":
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.Version = int16(h.int(td, "v", 4))
		for _, v := range h.list(td, "txns") {
			head, topics, _ := strings.Cut(v, "=")
			f := strings.Split(head, "/")
			rtx := kmsg.NewAddPartitionsToTxnRequestTransaction()
			rtx.TransactionalID = f[0]
			rtx.ProducerID, rtx.ProducerEpoch, _ = h.c.Producer(f[0])
			if len(f) > 1 && f[1] != "" {
				rtx.ProducerID = int64(atoi(td, f[1]))
			}
			if len(f) > 2 && f[2] != "" {
				rtx.ProducerEpoch = int16(atoi(td, f[2]))
			}
			rtx.VerifyOnly = len(f) > 3 && f[3] == "verify"
			for _, tv := range strings.Split(topics, ";") {
				fields := strings.Split(tv, ":")
				rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
				rt.Topic = fields[0]
				for _, p := range fields[1:] {
					rt.Partitions = append(rt.Partitions, int32(atoi(td, p)))
				}
				rtx.Topics = append(rtx.Topics, rt)
			}
			r.Transactions = append(r.Transactions, rtx)
		}
		return r
	case "offsets":
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.Version = int16(h.int(td, "v", 3))
		r.TransactionalID = id
		r.ProducerID, r.ProducerEpoch = h.pidEpoch(td, id)
		r.Group = h.str(td, "group", "g")
		return r
	case "end":
		r := kmsg.NewPtrEndTxnRequest()
		r.Version = int16(h.int(td, "v", 3))
		r.TransactionalID = id
		r.ProducerID, r.ProducerEpoch = h.pidEpoch(td, id)
		switch {
		case td.HasArg("commit"):
			r.Commit = true
		case td.HasArg("abort"):
		default:
			td.Fatalf(h.t, "end: commit or abort")
		}
		return r
	case "describe":
		r := kmsg.NewPtrDescribeTransactionsRequest()
		r.TransactionalIDs = h.list(td, "ids")
		if r.TransactionalIDs == nil {
			r.TransactionalIDs = []string{id}
		}
		return r
	case "list":
		r := kmsg.NewPtrListTransactionsRequest()
		r.Version = int16(h.int(td, "v", 1))
		r.StateFilters = h.list(td, "states")
		for _, p := range h.list(td, "pids") {
			r.ProducerIDFilters = append(r.ProducerIDFilters, int64(atoi(td, p)))
		}
		if td.HasArg("duration") {
			r.DurationFilterMillis = int64(h.dur(td, "duration", 0) / time.Millisecond)
		}
		return r
	}
	td.Fatalf(h.t, "unknown command %s", td.Cmd)
	return nil
}

// output prints what a call produced and keeps its records as the log.
func (h *harness) output(b *strings.Builder, out Output) {
	for _, r := range out.Records {
		fmt.Fprintf(b, "record %s\n", fmtRecord(h.t, r))
	}
	h.log = append(h.log, out.Records...)
	for _, r := range out.Replies {
		fmt.Fprintf(b, "%s: %s\n", r.To, fmtResponse(r.Response))
	}
	for _, m := range out.Markers {
		fmt.Fprintf(b, "markers %s\n", fmtMarkers(m))
		h.asked[m.TransactionalID] = m
	}
}

func (h *harness) fmtState(t *transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s pid=%d epoch=%d", t.id, t.state, t.pid, t.epoch)
	if t.prevPID != -1 && t.prevPID != t.pid {
		fmt.Fprintf(&b, " prev-pid=%d", t.prevPID)
	}
	if t.lastEpoch != -1 {
		fmt.Fprintf(&b, " last-epoch=%d", t.lastEpoch)
	}
	fmt.Fprintf(&b, " timeout=%s", millis(t.timeoutMs))
	if len(t.parts) > 0 {
		fmt.Fprintf(&b, " parts=%s", fmtTPs(t.sortedParts()))
	}
	if gs := t.sortedGroups(); gs != nil {
		fmt.Fprintf(&b, " groups=%s", strings.Join(gs, ","))
	}
	if !t.start.IsZero() {
		fmt.Fprintf(&b, " start=%s", fmtTime(t.start))
	}
	fmt.Fprintf(&b, " update=%s", fmtTime(t.updated))
	if t.timer.Armed() {
		what := "expires"
		if t.state == Ongoing {
			what = "times out"
		}
		fmt.Fprintf(&b, " %s=%s", what, fmtTime(t.timer.At))
	}
	return b.String()
}

func fmtRecord(t *testing.T, r Record) string {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(r.Key); err != nil {
		t.Fatalf("bad key: %v", err)
	}
	if k.Version != 0 {
		t.Errorf("key version %d", k.Version)
	}
	if r.Value == nil {
		return k.TransactionalID + ": tombstone"
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(r.Value); err != nil {
		t.Fatalf("bad value: %v", err)
	}
	if v.Version != 0 {
		t.Errorf("value version %d", v.Version)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s pid=%d epoch=%d timeout=%dms", k.TransactionalID, State(v.State), v.ProducerID, v.ProducerEpoch, v.TimeoutMillis)
	if len(v.Topics) > 0 {
		var tps []TopicPartition
		for _, vt := range v.Topics {
			for _, p := range vt.Partitions {
				tps = append(tps, TopicPartition{vt.Topic, p})
			}
		}
		fmt.Fprintf(&b, " parts=%s", fmtTPs(tps))
	}
	fmt.Fprintf(&b, " start=%s update=%s", fmtMillis(v.StartTimestamp), fmtMillis(v.LastUpdateTimestamp))
	return b.String()
}

func fmtMarkers(m Markers) string {
	outcome := "abort"
	if m.Commit {
		outcome = "commit"
	}
	s := fmt.Sprintf("%s: %s pid=%d epoch=%d coord-epoch=%d %s", m.TransactionalID, outcome, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, fmtTPs(m.Partitions))
	if m.Groups != nil {
		s += " groups=" + strings.Join(m.Groups, ",")
	}
	return s
}

func fmtTPs(tps []TopicPartition) string {
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = fmt.Sprintf("%s:%d", tp.Topic, tp.Partition)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func fmtResponse(resp kmsg.Response) string {
	var b strings.Builder
	switch r := resp.(type) {
	case *kmsg.InitProducerIDResponse:
		fmt.Fprintf(&b, "init %s pid=%d epoch=%d", errName(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
	case *kmsg.AddPartitionsToTxnResponse:
		b.WriteString("add")
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				fmt.Fprintf(&b, " %s:%d=%s", rt.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
		for _, rtx := range r.Transactions {
			fmt.Fprintf(&b, " %s{", rtx.TransactionalID)
			var parts []string
			for _, rt := range rtx.Topics {
				for _, p := range rt.Partitions {
					parts = append(parts, fmt.Sprintf("%s:%d=%s", rt.Topic, p.Partition, errName(p.ErrorCode)))
				}
			}
			fmt.Fprintf(&b, "%s}", strings.Join(parts, " "))
		}
		if r.ErrorCode != 0 {
			fmt.Fprintf(&b, " error=%s", errName(r.ErrorCode))
		}
	case *kmsg.AddOffsetsToTxnResponse:
		fmt.Fprintf(&b, "offsets %s", errName(r.ErrorCode))
	case *kmsg.EndTxnResponse:
		fmt.Fprintf(&b, "end %s", errName(r.ErrorCode))
		if r.Version >= 5 {
			fmt.Fprintf(&b, " pid=%d epoch=%d", r.ProducerID, r.ProducerEpoch)
		}
	case *kmsg.DescribeTransactionsResponse:
		b.WriteString("describe")
		for _, st := range r.TransactionStates {
			fmt.Fprintf(&b, "\n  %s: %s", st.TransactionalID, errName(st.ErrorCode))
			if st.ErrorCode != 0 {
				continue
			}
			fmt.Fprintf(&b, " %s pid=%d epoch=%d timeout=%dms start=%s", st.State, st.ProducerID, st.ProducerEpoch, st.TimeoutMillis, fmtMillis(st.StartTimestamp))
			for _, t := range st.Topics {
				fmt.Fprintf(&b, " %s:%v", t.Topic, t.Partitions)
			}
		}
	case *kmsg.ListTransactionsResponse:
		fmt.Fprintf(&b, "list %s", errName(r.ErrorCode))
		for _, ts := range r.TransactionStates {
			fmt.Fprintf(&b, " %s(%d,%s)", ts.TransactionalID, ts.ProducerID, ts.TransactionState)
		}
		if len(r.UnknownStateFilters) > 0 {
			fmt.Fprintf(&b, " unknown-states=%s", strings.Join(r.UnknownStateFilters, ","))
		}
	default:
		fmt.Fprintf(&b, "%T", resp)
	}
	return b.String()
}

func errName(code int16) string {
	if code == 0 {
		return "ok"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return ke.Message
		}
	}
	return strconv.Itoa(int(code))
}

func fmtTime(t time.Time) string {
	if d := t.Sub(t0); d < 0 {
		return "T" + d.String()
	}
	return "T+" + t.Sub(t0).String()
}

func fmtMillis(ms int64) string {
	if ms < 0 {
		return strconv.FormatInt(ms, 10)
	}
	return fmtTime(time.UnixMilli(ms))
}

func (h *harness) str(td *datadriven.TestData, key, def string) string {
	if a, ok := td.Arg(key); ok {
		if len(a.Vals) == 0 {
			return ""
		}
		return a.Vals[0]
	}
	return def
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

func (h *harness) list(td *datadriven.TestData, key string) []string {
	if a, ok := td.Arg(key); ok {
		return a.Vals
	}
	return nil
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

func splitTP(td *datadriven.TestData, s string) (string, int32) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		panic(fmt.Sprintf("%s: topic:partition, not %q", td.Pos, s))
	}
	return s[:i], int32(atoi(td, s[i+1:]))
}
