package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/bench"
)

// newBenchRebalanceCommand returns "eddy bench rebalance". Of the bench
// flags it uses --topic (only when given), --partitions, --replicas,
// --record-size and --rate.
func newBenchRebalanceCommand(a *app, bf *benchFlags) *cobra.Command {
	var (
		members      int
		balancer     string
		rounds       int
		session      time.Duration
		heartbeat    time.Duration
		rebalance    time.Duration
		eventTimeout time.Duration
		keepTopic    bool
	)
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Measure how long a consumer group takes to consume again after members join, leave or die",
		Long: `Produce to a topic at a steady --rate while --members franz-go consumers
consume it in one group (--balancer: cooperative-sticky, sticky, range or
roundrobin). Once they all consume, run --rounds rounds of membership events:
a member joins, the oldest leaves (Close, which sends LeaveGroup), a member
joins, and the oldest is killed (its connections cut, no LeaveGroup: the
coordinator notices only when its --session-timeout expires). Each event
starts at a random time, one to two heartbeat intervals after the group is
Stable again, so that events meet the members' heartbeats in random phase.

Each event is timed from its start (the new client's creation, the Close,
the kill) until every member has consumed a record produced after it began
and every partition has been consumed past that point: the group consumes
again. The report gives min, median, p99 and max per kind of event. The
resolution is one record interval per partition (partitions / rate).

Without --topic, a fresh topic with --partitions partitions (default 3 per
member) is created and deleted at the end (unless --keep-topic). The group
is deleted at the end. --records, --duration, --producers, --client, --acks,
--compression and the disk baseline flags do not apply.`,
		Example: `  eddy bench rebalance --members 10 --partitions 30
  eddy bench rebalance --members 10 --balancer range --rounds 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := bench.RebalanceConfig{
				Brokers:           a.brokerList(),
				KeepTopic:         keepTopic,
				Partitions:        max(bf.partitions, 0),
				Replicas:          bf.replicas,
				Members:           members,
				Balancer:          balancer,
				Rounds:            rounds,
				SessionTimeout:    session,
				HeartbeatInterval: heartbeat,
				RebalanceTimeout:  rebalance,
				Rate:              bf.rate,
				RecordSize:        bf.recordSize,
				EventTimeout:      eventTimeout,
				Progress:          cmd.ErrOrStderr(),
				Logger:            a.logger(),
				ClientOpts:        []kgo.Opt{kgo.WithLogger(newKgoLogger(a.logger()))},
			}
			if cmd.Flags().Changed("topic") {
				cfg.Topic = bf.topic
			}
			res, err := bench.Rebalance(cmd.Context(), cfg)
			if res != nil && len(res.Events) > 0 {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "rebalance\n%s\n", strings.Repeat("=", len("rebalance")))
				if perr := res.Print(out); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&members, "members", 10, "group members in steady state")
	f.StringVar(&balancer, "balancer", bench.BalancerCooperativeSticky, "group balancer: "+strings.Join(bench.Balancers, ", "))
	f.IntVar(&rounds, "rounds", 5, "rounds of events, each a join, a leave, a join and a kill")
	f.DurationVar(&session, "session-timeout", 6*time.Second, "member session timeout (brokers allow 6s at least by default)")
	f.DurationVar(&heartbeat, "heartbeat-interval", 0, "member heartbeat interval (0: a third of --session-timeout)")
	f.DurationVar(&rebalance, "rebalance-timeout", 0, "member rebalance timeout (0: franz-go default, 60s)")
	f.DurationVar(&eventTimeout, "event-timeout", 2*time.Minute, "how long to wait for the group to consume again after one event")
	f.BoolVar(&keepTopic, "keep-topic", false, "keep the topic the run creates")
	return cmd
}
