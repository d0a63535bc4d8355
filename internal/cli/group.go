package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newGroupCommand returns "eddy group" and its subcommands. They use only
// the classic group APIs (ListGroups, DescribeGroups, OffsetFetch,
// OffsetCommit, DeleteGroups) through kadm, so they work against Eddy or any
// Kafka cluster.
func newGroupCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups", "g"},
		Short:   "List, describe, reset the offsets of and delete consumer groups",
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(
		newGroupListCommand(a),
		newGroupDescribeCommand(a),
		newGroupResetOffsetsCommand(a),
		newGroupDeleteCommand(a),
	)
	return cmd
}

// groupStates are the group states ListGroups can filter on: the classic
// protocol's, then KIP-848's.
var groupStates = []string{
	"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Dead",
	"Assigning", "Reconciling", "NotReady",
}

// parseGroupStates validates --state values (case-insensitively, comma
// separated or repeated) and returns them in their canonical spelling.
func parseGroupStates(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		i := slices.IndexFunc(groupStates, func(g string) bool { return strings.EqualFold(g, s) })
		if i < 0 {
			return nil, fmt.Errorf("invalid --state %q (want one of %s)", s, strings.Join(groupStates, ", "))
		}
		if !slices.Contains(out, groupStates[i]) {
			out = append(out, groupStates[i])
		}
	}
	return out, nil
}

func newGroupListCommand(a *app) *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups with their state, protocol type and member count",
		Long: `List the groups of the cluster (ListGroups), with the number of members of
each (DescribeGroups). --state keeps only groups in the given states, e.g.
--state Stable,Empty (case-insensitive; repeatable).`,
		Example: `  eddy group list --state Stable,PreparingRebalance`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := parseGroupStates(states)
			if err != nil {
				return err
			}
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()

			listed, listErr := adm.ListGroups(ctx, filter...)
			if listErr != nil && len(listed) == 0 {
				return fmt.Errorf("list groups: %w", listErr)
			}
			// Brokers before Kafka 2.6 ignore the filter: apply it here too.
			var names []string
			for _, g := range listed.Sorted() {
				if len(filter) == 0 || g.State == "" || slices.ContainsFunc(filter, func(s string) bool { return strings.EqualFold(s, g.State) }) {
					names = append(names, g.Group)
				}
			}
			var described kadm.DescribedGroups
			var descErr error
			if len(names) > 0 {
				described, descErr = adm.DescribeGroups(ctx, names...)
			}
			tw := newTable(cmd.OutOrStdout())
			row(tw, "GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS")
			for _, name := range names {
				g := listed[name]
				state, members := g.State, "-"
				if d, ok := described[name]; ok && d.Err == nil {
					members = strconv.Itoa(len(d.Members))
					if state == "" {
						state = d.State
					}
				}
				if len(filter) > 0 && !slices.ContainsFunc(filter, func(s string) bool { return strings.EqualFold(s, state) }) {
					continue
				}
				row(tw, name, dash(state), dash(g.ProtocolType), members)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if listErr != nil {
				return fmt.Errorf("list groups (partial result): %w", listErr)
			}
			if descErr != nil {
				return fmt.Errorf("describe groups (member counts may be missing): %w", descErr)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&states, "state", "s", nil, "only list groups in these states (comma-separated, repeatable)")
	return cmd
}

// dash renders an empty cell as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupDescribeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Describe groups: members, assignments, committed offsets and lag",
		Long: `Describe groups like kafka-consumer-groups --describe: the group's state,
protocol and coordinator; each member with its assigned partitions (the
consumer protocol assignment, decoded); and one line per partition with the
committed offset, log start offset, log end offset (high watermark), lag and
the member owning it. Partitions the group committed offsets for that no
member owns now are listed too, without a member, and so are the other
partitions of every topic listed: a partition never committed shows "-" as
its current offset and all its records as lag.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, groups []string) error {
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()

			lags, err := adm.Lag(ctx, groups...)
			if err != nil && len(lags) == 0 {
				return fmt.Errorf("describe groups: %w", err)
			}
			out := cmd.OutOrStdout()
			failed := 0
			for i, g := range groups {
				if i > 0 {
					fmt.Fprintln(out)
				}
				l, ok := lags[g]
				switch {
				case !ok:
					failed++
					fmt.Fprintf(out, "%s: group missing from the response\n", g)
					continue
				case l.Error() != nil:
					failed++
					fmt.Fprintf(out, "%s: %s\n", g, kafkaError(l.Error(), ""))
					continue
				case l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0:
					failed++
					fmt.Fprintf(out, "%s: group does not exist (state Dead)\n", g)
					continue
				}
				if err := printGroupDescription(out, l); err != nil {
					return err
				}
			}
			if failed > 0 {
				return fmt.Errorf("describe failed for %d of %d group(s)", failed, len(groups))
			}
			return nil
		},
	}
}

// printGroupDescription prints one described group with its lag.
func printGroupDescription(w io.Writer, l kadm.DescribedGroupLag) error {
	tw := newTable(w)
	row(tw, "GROUP", l.Group)
	row(tw, "COORDINATOR", fmt.Sprintf("%d (%s)", l.Coordinator.NodeID, brokerAddr(l.Coordinator)))
	row(tw, "STATE", dash(l.State))
	row(tw, "PROTOCOL-TYPE", dash(l.ProtocolType))
	row(tw, "PROTOCOL", dash(l.Protocol))
	row(tw, "MEMBERS", len(l.Members))
	row(tw, "TOTAL-LAG", l.Lag.Total())
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	section(w, "MEMBERS")
	tw = newTable(w)
	row(tw, "MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "PARTITIONS")
	for _, m := range l.Members {
		instance := "-"
		if m.InstanceID != nil {
			instance = *m.InstanceID
		}
		row(tw, m.MemberID, instance, dash(m.ClientID), dash(m.ClientHost), memberAssignment(m, l.ProtocolType))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	section(w, "PARTITIONS")
	tw = newTable(w)
	row(tw, "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-START-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID", "CLIENT-ID", "HOST", "ERROR")
	for _, p := range l.Lag.Sorted() {
		current, start, end, lag := "-", "-", "-", "-"
		if p.Commit.At >= 0 {
			current = strconv.FormatInt(p.Commit.At, 10)
		}
		if p.Start.Err == nil {
			start = strconv.FormatInt(p.Start.Offset, 10)
		}
		if p.End.Err == nil {
			end = strconv.FormatInt(p.End.Offset, 10)
		}
		if p.Err == nil && p.Lag >= 0 {
			lag = strconv.FormatInt(p.Lag, 10)
		}
		member, client, host := "-", "-", "-"
		if p.Member != nil {
			member, client, host = p.Member.MemberID, dash(p.Member.ClientID), dash(p.Member.ClientHost)
		}
		errCell := "-"
		if p.Err != nil {
			errCell = kafkaError(p.Err, "")
		}
		row(tw, p.Topic, p.Partition, current, start, end, lag, member, client, host, errCell)
	}
	return tw.Flush()
}

// brokerAddr renders a broker's host:port, or "?" when unknown.
func brokerAddr(b kadm.BrokerDetail) string {
	if b.Host == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", b.Host, b.Port)
}

// memberAssignment renders a member's assignment as "topic:0,1,2" per topic,
// decoding the consumer protocol with kadm; other protocols show their size.
func memberAssignment(m kadm.DescribedGroupMember, protocolType string) string {
	if c, ok := m.Assigned.AsConsumer(); ok {
		var parts []string
		topics := slices.Clone(c.Topics)
		slices.SortFunc(topics, func(a, b kmsg.ConsumerMemberAssignmentTopic) int { return strings.Compare(a.Topic, b.Topic) })
		for _, t := range topics {
			ps := slices.Clone(t.Partitions)
			slices.Sort(ps)
			strs := make([]string, len(ps))
			for i, p := range ps {
				strs[i] = strconv.Itoa(int(p))
			}
			parts = append(parts, t.Topic+":"+strings.Join(strs, ","))
		}
		return dash(strings.Join(parts, " "))
	}
	if raw, ok := m.Assigned.Raw(); ok && len(raw) > 0 {
		return fmt.Sprintf("(%d bytes of %s protocol)", len(raw), dash(protocolType))
	}
	return "-"
}

// resetMode is the --to-* / --shift-by choice of reset-offsets.
type resetMode int

const (
	resetEarliest resetMode = iota
	resetLatest
	resetDatetime
	resetShift
	resetOffset
)

// resetFlags holds the flags of reset-offsets.
type resetFlags struct {
	topics    []string
	allTopics bool
	earliest  bool
	latest    bool
	datetime  string
	shiftBy   int64
	toOffset  int64
	dryRun    bool
}

// mode returns the single selected reset mode and, for --to-datetime, the
// timestamp in Unix milliseconds.
func (rf *resetFlags) mode(cmd *cobra.Command) (resetMode, int64, error) {
	var modes []resetMode
	var names []string
	add := func(set bool, m resetMode, name string) {
		if set {
			modes = append(modes, m)
			names = append(names, name)
		}
	}
	f := cmd.Flags()
	add(rf.earliest, resetEarliest, "--to-earliest")
	add(rf.latest, resetLatest, "--to-latest")
	add(f.Changed("to-datetime"), resetDatetime, "--to-datetime")
	add(f.Changed("shift-by"), resetShift, "--shift-by")
	add(f.Changed("to-offset"), resetOffset, "--to-offset")
	switch len(modes) {
	case 0:
		return 0, 0, errors.New("give one of --to-earliest, --to-latest, --to-datetime, --shift-by or --to-offset")
	case 1:
	default:
		return 0, 0, fmt.Errorf("give only one of %s", strings.Join(names, ", "))
	}
	var ms int64
	if modes[0] == resetDatetime {
		var err error
		if ms, err = parseDatetime(rf.datetime); err != nil {
			return 0, 0, err
		}
	}
	if modes[0] == resetOffset && rf.toOffset < 0 {
		return 0, 0, fmt.Errorf("--to-offset %d is negative", rf.toOffset)
	}
	return modes[0], ms, nil
}

// parseDatetime parses --to-datetime: Unix milliseconds, RFC 3339 (with
// optional fractional seconds), or the same without a zone in local time.
func parseDatetime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.Local); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("invalid --to-datetime %q (want RFC 3339, e.g. 2024-05-01T12:00:00Z, or Unix milliseconds)", s)
}

// parseTopicSpecs parses --topic values "T" (every partition) and
// "T:0,1,2" into topic -> partitions (nil: all).
func parseTopicSpecs(specs []string) (map[string][]int32, error) {
	out := make(map[string][]int32)
	for _, spec := range specs {
		topic, list, hasList := strings.Cut(spec, ":")
		topic = strings.TrimSpace(topic)
		if topic == "" {
			return nil, fmt.Errorf("invalid --topic %q: empty topic name", spec)
		}
		if !hasList {
			out[topic] = nil
			continue
		}
		if prev, seen := out[topic]; seen && prev == nil {
			continue // already all partitions
		}
		for _, p := range strings.Split(list, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("invalid --topic %q: want TOPIC or TOPIC:P,P,... with partition numbers", spec)
			}
			if !slices.Contains(out[topic], int32(n)) {
				out[topic] = append(out[topic], int32(n))
			}
		}
	}
	return out, nil
}

// resetPlanRow is one partition of a reset-offsets plan.
type resetPlanRow struct {
	topic     string
	partition int32
	old       int64 // -1: nothing committed
	new       int64
	note      string // clamping remark
	err       error  // the partition cannot be planned
}

func newGroupResetOffsetsCommand(a *app) *cobra.Command {
	rf := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP",
		Short: "Reset the committed offsets of a group that has no members",
		Long: `Reset the committed offsets of GROUP, for the partitions of --topic T
(repeatable; T:0,2 for some partitions) or, with --all-topics, for every
partition the group has committed offsets for.

Exactly one of:
  --to-earliest       the log start offset
  --to-latest         the log end offset (high watermark)
  --to-datetime T     the first offset whose timestamp is at or after T
                      (RFC 3339 or Unix milliseconds; the log end offset if
                      there is none)
  --shift-by N        the committed offset plus N (may be negative; every
                      partition needs a committed offset)
  --to-offset N       offset N

As Kafka's tools do, the new offset is clamped to [log start offset, high
watermark]. The group must have no members (state Empty, or Dead for a group
that does not exist yet): stop its consumers first. --dry-run prints the plan
without committing. The table shows each partition's old and new offset.`,
		Example: `  eddy group reset-offsets billing --topic orders --to-earliest --dry-run
  eddy group reset-offsets billing --topic orders:0,1 --shift-by -100
  eddy group reset-offsets billing --all-topics --to-datetime 2024-05-01T00:00:00Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.resetOffsets(cmd, args[0], rf)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&rf.topics, "topic", "t", nil, "topic to reset, TOPIC or TOPIC:P,P,... (repeatable)")
	f.BoolVar(&rf.allTopics, "all-topics", false, "reset every partition the group has committed offsets for")
	f.BoolVar(&rf.earliest, "to-earliest", false, "reset to the log start offset")
	f.BoolVar(&rf.latest, "to-latest", false, "reset to the log end offset (high watermark)")
	f.StringVar(&rf.datetime, "to-datetime", "", "reset to the first offset at or after this time (RFC 3339 or Unix ms)")
	f.Int64Var(&rf.shiftBy, "shift-by", 0, "shift the committed offsets by N (may be negative)")
	f.Int64Var(&rf.toOffset, "to-offset", 0, "reset to offset N")
	f.BoolVar(&rf.dryRun, "dry-run", false, "print the plan without committing")
	return cmd
}

// resetOffsets runs reset-offsets for one group.
func (a *app) resetOffsets(cmd *cobra.Command, group string, rf *resetFlags) error {
	mode, ms, err := rf.mode(cmd)
	if err != nil {
		return err
	}
	switch {
	case rf.allTopics && len(rf.topics) > 0:
		return errors.New("give either --topic or --all-topics, not both")
	case !rf.allTopics && len(rf.topics) == 0:
		return errors.New("give the partitions to reset with --topic (repeatable) or --all-topics")
	}
	specs, err := parseTopicSpecs(rf.topics)
	if err != nil {
		return err
	}

	adm, done, err := a.newAdmin()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := a.adminContext(cmd.Context())
	defer cancel()

	if err := checkGroupInactive(ctx, adm, group); err != nil {
		return err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetching the committed offsets of %s: %w", group, err)
	}
	if rf.allTopics {
		specs = make(map[string][]int32)
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				specs[o.Topic] = append(specs[o.Topic], o.Partition)
			}
		})
		if len(specs) == 0 {
			return fmt.Errorf("group %s has no committed offsets; name the partitions with --topic", group)
		}
	}
	plan, err := planReset(ctx, adm, specs, committed, mode, ms, rf.shiftBy, rf.toOffset)
	if err != nil {
		return err
	}

	planErrs := 0
	for _, r := range plan {
		if r.err != nil {
			planErrs++
		}
	}
	out := cmd.OutOrStdout()
	if rf.dryRun || planErrs > 0 {
		tw := newTable(out)
		row(tw, "TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET", "STATUS")
		for _, r := range plan {
			status := "dry-run" + r.note
			if r.err != nil {
				status = "error: " + kafkaError(r.err, "")
			} else if !rf.dryRun {
				status = "not committed" + r.note
			}
			row(tw, r.topic, r.partition, offsetOrDash(r.old), newOffsetCell(r), status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if planErrs > 0 {
			return fmt.Errorf("cannot reset %d of %d partition(s); nothing was committed", planErrs, len(plan))
		}
		fmt.Fprintln(out, "dry run: no offsets were committed")
		return nil
	}

	offsets := make(kadm.Offsets)
	for _, r := range plan {
		offsets.Add(kadm.Offset{Topic: r.topic, Partition: r.partition, At: r.new, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return fmt.Errorf("committing offsets: %w", err)
	}
	tw := newTable(out)
	row(tw, "TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET", "STATUS")
	failed := 0
	for _, r := range plan {
		status := "OK" + r.note
		resp, ok := resps.Lookup(r.topic, r.partition)
		switch {
		case !ok:
			failed++
			status = "no response from broker"
		case resp.Err != nil:
			failed++
			status = kafkaError(resp.Err, "")
			if errors.Is(resp.Err, kerr.UnknownMemberID) || errors.Is(resp.Err, kerr.IllegalGeneration) ||
				errors.Is(resp.Err, kerr.RebalanceInProgress) {
				status += " (the group has members again; stop them and retry)"
			}
		}
		row(tw, r.topic, r.partition, offsetOrDash(r.old), r.new, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("reset failed for %d of %d partition(s)", failed, len(plan))
	}
	return nil
}

// checkGroupInactive refuses a group that has members: the broker would
// reject an admin commit to it (UNKNOWN_MEMBER_ID), and the members would
// overwrite the reset offsets anyway.
func checkGroupInactive(ctx context.Context, adm *kadm.Client, group string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	d, err := described.On(group, nil)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
		return fmt.Errorf("describing group %s: %s", group, kafkaError(d.Err, d.ErrMessage))
	}
	switch d.State {
	case "Empty", "Dead", "":
		if len(d.Members) == 0 {
			return nil
		}
	}
	return fmt.Errorf("group %s has %d active member(s) (state %s): offsets can only be reset while the group has no members; stop its consumers first",
		group, len(d.Members), dash(d.State))
}

// planReset computes the new offset of every partition in specs (topic ->
// partitions; nil: all of the topic's partitions), sorted by topic and
// partition. Errors that concern single partitions are kept in the rows.
func planReset(
	ctx context.Context, adm *kadm.Client,
	specs map[string][]int32, committed kadm.OffsetResponses,
	mode resetMode, ms, shiftBy, toOffset int64,
) ([]resetPlanRow, error) {
	topics := make([]string, 0, len(specs))
	for t := range specs {
		topics = append(topics, t)
	}
	slices.Sort(topics)

	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing log end offsets: %w", err)
	}
	var times kadm.ListedOffsets
	if mode == resetDatetime {
		if times, err = adm.ListOffsetsAfterMilli(ctx, ms, topics...); err != nil {
			return nil, fmt.Errorf("listing offsets by time: %w", err)
		}
	}

	var plan []resetPlanRow
	for _, t := range topics {
		if o, ok := ends.Lookup(t, -1); ok && o.Err != nil {
			return nil, fmt.Errorf("topic %s: %s", t, kafkaError(o.Err, ""))
		}
		parts := slices.Clone(specs[t])
		if parts == nil {
			for p := range ends[t] {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("topic %s: no partitions listed (does it exist?)", t)
		}
		slices.Sort(parts)
		for _, p := range parts {
			r := resetPlanRow{topic: t, partition: p, old: -1}
			if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
				r.old = c.At
			}
			plan = append(plan, r.compute(starts, ends, times, mode, shiftBy, toOffset))
		}
	}
	return plan, nil
}

// compute fills in the new offset of r, clamped to [log start, high
// watermark], or its error.
func (r resetPlanRow) compute(starts, ends, times kadm.ListedOffsets, mode resetMode, shiftBy, toOffset int64) resetPlanRow {
	end, ok := ends.Lookup(r.topic, r.partition)
	if !ok {
		r.err = kerr.UnknownTopicOrPartition
		return r
	}
	if end.Err != nil {
		r.err = end.Err
		return r
	}
	start, ok := starts.Lookup(r.topic, r.partition)
	if !ok || start.Err != nil {
		r.err = kerr.UnknownTopicOrPartition
		if ok {
			r.err = start.Err
		}
		return r
	}
	switch mode {
	case resetEarliest:
		r.new = start.Offset
	case resetLatest:
		r.new = end.Offset
	case resetDatetime:
		at, ok := times.Lookup(r.topic, r.partition)
		switch {
		case !ok:
			r.err = kerr.UnknownTopicOrPartition
			return r
		case at.Err != nil:
			r.err = at.Err
			return r
		case at.Offset < 0:
			r.new = end.Offset
		default:
			r.new = at.Offset
		}
	case resetShift:
		if r.old < 0 {
			r.err = errors.New("no committed offset to shift")
			return r
		}
		r.new = r.old + shiftBy
	case resetOffset:
		r.new = toOffset
	}
	switch {
	case r.new < start.Offset:
		r.note = fmt.Sprintf(" (clamped to log start offset %d)", start.Offset)
		r.new = start.Offset
	case r.new > end.Offset:
		r.note = fmt.Sprintf(" (clamped to high watermark %d)", end.Offset)
		r.new = end.Offset
	}
	return r
}

// offsetOrDash renders an offset, or "-" for none.
func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

// newOffsetCell renders a planned offset, or "-" for a row in error.
func newOffsetCell(r resetPlanRow) string {
	if r.err != nil {
		return "-"
	}
	return strconv.FormatInt(r.new, 10)
}

func newGroupDeleteCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete GROUP...",
		Aliases: []string{"rm"},
		Short:   "Delete groups that have no members, with their committed offsets",
		Long: `Delete groups (DeleteGroups) and their committed offsets. A group that still
has members is not deleted: the broker answers NON_EMPTY_GROUP.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, groups []string) error {
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resps, err := adm.DeleteGroups(ctx, groups...)
			if err != nil && len(resps) == 0 {
				return fmt.Errorf("delete groups: %w", err)
			}
			tw := newTable(cmd.OutOrStdout())
			row(tw, "GROUP", "STATUS")
			failed := 0
			for _, g := range groups {
				r, ok := resps[g]
				switch {
				case !ok:
					failed++
					row(tw, g, "no response from broker")
				case r.Err != nil:
					failed++
					status := kafkaError(r.Err, r.ErrMessage)
					if errors.Is(r.Err, kerr.NonEmptyGroup) {
						status += " (the group has active members; stop its consumers first)"
					}
					row(tw, g, status)
				default:
					row(tw, g, "OK")
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("delete failed for %d of %d group(s)", failed, len(groups))
			}
			return nil
		},
	}
}
