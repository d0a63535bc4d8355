package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/internal/cli/testbroker"
)

func TestRebalanceConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  RebalanceConfig
		want string
	}{
		{RebalanceConfig{}, "no brokers"},
		{RebalanceConfig{Brokers: []string{"x:1"}, Balancer: "fair"}, "invalid balancer"},
		{RebalanceConfig{Brokers: []string{"x:1"}, Members: 4, Partitions: 4}, "more partitions than members"},
		{RebalanceConfig{Brokers: []string{"x:1"}, RecordSize: 4}, "record size"},
		{RebalanceConfig{Brokers: []string{"x:1"}, SessionTimeout: time.Second, HeartbeatInterval: 2 * time.Second}, "heartbeat interval"},
	} {
		_, err := Rebalance(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Rebalance(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	if c := (RebalanceConfig{Members: 4}).withDefaults(); c.Partitions != 12 || c.Balancer != BalancerCooperativeSticky ||
		c.SessionTimeout != 6*time.Second || c.HeartbeatInterval != 2*time.Second || c.Rate != 600 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestEventStats(t *testing.T) {
	var s []time.Duration
	for i := 10; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Second)
	}
	got := eventStats(s)
	want := EventStats{Count: 10, Min: time.Second, Median: 5 * time.Second, P99: 10 * time.Second, Max: 10 * time.Second, Mean: 5500 * time.Millisecond}
	if got != want {
		t.Fatalf("eventStats = %+v, want %+v", got, want)
	}
	if (eventStats(nil) != EventStats{}) {
		t.Fatal("stats of no samples not zero")
	}
}

// TestRebalance runs the benchmark with three members and checks that it
// measures every event and that the figures are consistent, without
// judging how fast the broker is.
func TestRebalance(t *testing.T) {
	brokers := testbroker.Start(t)
	for _, balancer := range []string{BalancerCooperativeSticky, BalancerRange} {
		t.Run(balancer, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var progress bytes.Buffer
			cfg := RebalanceConfig{
				Brokers:  brokers,
				Members:  3,
				Balancer: balancer,
				Rounds:   1,
				Rate:     200,
				// Short, so that a leave is over in about a heartbeat
				// while a kill waits for the 6s session timeout.
				HeartbeatInterval: 500 * time.Millisecond,
				EventTimeout:      time.Minute,
				Progress:          &progress,
			}
			res, err := Rebalance(ctx, cfg)
			if err != nil {
				if res != nil {
					t.Logf("events so far: %+v", res.Events)
				}
				t.Fatalf("Rebalance: %v\nprogress:\n%s", err, progress.String())
			}
			t.Logf("progress:\n%s", progress.String())

			if res.Members != 3 || res.Partitions != 9 || res.Balancer != balancer || res.SessionTimeout != 6*time.Second {
				t.Fatalf("parameters %+v", res)
			}
			kinds := make([]string, len(res.Events))
			for i, e := range res.Events {
				kinds[i] = e.Kind
				if e.Duration <= 0 {
					t.Fatalf("event %d %+v has no duration", i, e)
				}
			}
			if got := strings.Join(kinds, " "); got != "startup join leave join kill" {
				t.Fatalf("events %s", got)
			}
			if members := [5]int{res.Events[0].Members, res.Events[1].Members, res.Events[2].Members, res.Events[3].Members, res.Events[4].Members}; members != [5]int{3, 4, 3, 4, 3} {
				t.Fatalf("members after each event %v", members)
			}
			if res.Join.Count != 2 || res.Leave.Count != 1 || res.Kill.Count != 1 || res.Startup != res.Events[0].Duration {
				t.Fatalf("summary %+v", res)
			}
			for _, s := range []EventStats{res.Join, res.Leave, res.Kill} {
				if !(0 < s.Min && s.Min <= s.Median && s.Median <= s.P99 && s.P99 <= s.Max && s.Min <= s.Mean && s.Mean <= s.Max) {
					t.Fatalf("inconsistent stats %+v", s)
				}
			}
			// A killed member sends no LeaveGroup: the coordinator only
			// notices it a session timeout after its last heartbeat, at
			// most a heartbeat interval before the kill. (Half the session
			// timeout leaves a wide margin for a stalled heartbeat; a leave
			// takes about a heartbeat interval.)
			if res.Kill.Min < res.SessionTimeout/2 {
				t.Fatalf("kill took %v, less than half the session timeout %v: did the member leave instead of dying?", res.Kill.Min, res.SessionTimeout)
			}
			if res.Produced == 0 || res.Consumed == 0 || res.ProduceErrors != 0 {
				t.Fatalf("records: %d produced, %d consumed, %d errors (%v)", res.Produced, res.Consumed, res.ProduceErrors, res.FirstError)
			}

			var out bytes.Buffer
			if err := res.Print(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"BALANCER", balancer, "SESSION TIMEOUT", "STARTUP", "MEDIAN", "\njoin ", "\nleave ", "\nkill "} {
				if !strings.Contains(out.String(), want) {
					t.Fatalf("report lacks %q:\n%s", want, out.String())
				}
			}

			// The run cleans up its topic and group.
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			topics, err := adm.ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if topics.Has(res.Topic) {
				t.Errorf("topic %s left behind", res.Topic)
			}
			groups, err := adm.ListGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := groups[res.Group]; ok {
				t.Errorf("group %s left behind", res.Group)
			}
		})
	}
}
