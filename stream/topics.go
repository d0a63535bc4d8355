package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// setupTopics checks the source topics and creates the internal ones:
// repartition topics and compacted changelog topics with as many
// partitions as the sub-topology that uses them, and the dead-letter
// topic.
func (a *App) setupTopics(ctx context.Context) error {
	var user []string
	for r := range a.top.sources {
		if !r.internal {
			user = append(user, r.name)
		}
	}
	sort.Strings(user)
	var sinks []string
	for _, n := range a.top.nodes {
		if n.sink != nil && !n.sink.internal {
			sinks = append(sinks, n.sink.name)
		}
	}
	if len(sinks) > 0 {
		details, err := a.adm.ListTopics(ctx, sinks...)
		if err != nil {
			return fmt.Errorf("stream: listing sink topics: %w", err)
		}
		for _, t := range sinks {
			if d, ok := details[t]; !ok || d.Err != nil {
				return fmt.Errorf("stream: sink topic %q does not exist (create it before starting the app)", t)
			}
		}
	}
	details, err := a.adm.ListTopics(ctx, user...)
	if err != nil {
		return fmt.Errorf("stream: listing source topics: %w", err)
	}
	counts := map[string]int32{}
	maxParts := int32(1)
	for _, t := range user {
		d, ok := details[t]
		if !ok || d.Err != nil {
			return fmt.Errorf("stream: source topic %q does not exist (create it before starting the app)", t)
		}
		counts[t] = int32(len(d.Partitions))
		maxParts = max(maxParts, counts[t])
	}
	type want struct {
		parts   int32
		compact bool
	}
	internal := map[string]want{}
	for _, g := range a.top.subs {
		n := int32(0)
		for _, s := range g.sources {
			if s.internal {
				continue
			}
			if n != 0 && counts[s.name] != n {
				return fmt.Errorf("stream: topics of one sub-topology must be co-partitioned: %s has %d partitions, others %d (sub-topology %d)", s.name, counts[s.name], n, g.id)
			}
			n = counts[s.name]
		}
		if n == 0 {
			n = maxParts
		}
		for _, s := range g.sources {
			if s.internal {
				internal[s.resolve(a.cfg.appID)] = want{parts: n}
			}
		}
		for _, st := range g.stores {
			internal[st.changelog.resolve(a.cfg.appID)] = want{parts: n, compact: true}
		}
	}
	internal[a.cfg.dlq] = want{parts: maxParts}
	var names []string
	for n := range internal {
		names = append(names, n)
	}
	sort.Strings(names)
	existing, err := a.adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("stream: listing internal topics: %w", err)
	}
	compact := "compact"
	for _, n := range names {
		w := internal[n]
		if d, ok := existing[n]; ok && d.Err == nil {
			if n != a.cfg.dlq && int32(len(d.Partitions)) != w.parts {
				return fmt.Errorf("stream: internal topic %s has %d partitions, the topology needs %d", n, len(d.Partitions), w.parts)
			}
			continue
		}
		var configs map[string]*string
		if w.compact {
			configs = map[string]*string{"cleanup.policy": &compact}
		}
		resp, err := a.adm.CreateTopic(ctx, w.parts, a.cfg.replication, configs, n)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("stream: creating internal topic %s: %w", n, err)
		}
		a.log.Info("created internal topic", "topic", n, "partitions", w.parts, "compacted", w.compact)
	}
	a.internal = names
	return nil
}

// waitTopics waits until the internal topics are visible in metadata.
func (a *App) waitTopics(ctx context.Context) error {
	for {
		d, err := a.adm.ListTopics(ctx, a.internal...)
		if err != nil {
			return err
		}
		missing := ""
		for _, n := range a.internal {
			if t, ok := d[n]; !ok || t.Err != nil || len(t.Partitions) == 0 {
				missing = n
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream: internal topic %s not visible: %w", missing, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkTransactions fails with ErrTransactionsUnsupported unless every
// broker serves the transaction APIs.
func (a *App) checkTransactions(ctx context.Context) error {
	vs, err := a.adm.ApiVersions(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Err != nil {
			return v.Err
		}
		for _, key := range []int16{22, 24, 25, 26, 28} { // InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit
			if _, ok := v.KeyMaxVersion(key); !ok {
				return fmt.Errorf("%w: broker %d lacks API key %d", ErrTransactionsUnsupported, v.NodeID, key)
			}
		}
	}
	return nil
}

func (a *App) isUserTopic(t string) bool {
	for r := range a.top.sources {
		if !r.internal && r.name == t {
			return true
		}
	}
	return false
}
