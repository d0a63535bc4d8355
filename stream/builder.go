package stream

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Builder collects the operators of a topology. Operators record the first
// error they meet (a missing serde, a name used twice); Build reports it.
// A Builder is not safe for concurrent use.
type Builder struct {
	nodes  []*node
	stores map[string]*storeSpec
	names  map[string]bool
	err    error
}

// NewBuilder returns an empty topology builder.
func NewBuilder() *Builder {
	return &Builder{stores: map[string]*storeSpec{}, names: map[string]bool{}}
}

// topicRef names a topic: a user topic as given, or an internal topic
// (repartition, changelog) whose full name is prefixed with the
// application id when the topology runs.
type topicRef struct {
	name     string
	internal bool
}

func (r topicRef) resolve(appID string) string {
	if r.internal {
		return appID + "-" + r.name
	}
	return r.name
}

// node is one operator. build creates the operator's typed input function
// for one task, given the already built input functions of its children;
// for source nodes the result is a func(*kgo.Record).
type node struct {
	id       int
	name     string
	parents  []*node
	children []*node
	build    func(t *task, down []any) any

	source *topicRef // set on source nodes
	sink   *topicRef // set on sink nodes (To, repartition)
	global bool      // source of a global table: runs in the global task
	stores []string  // state stores the operator uses
	sub    int
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// newName returns a unique operator name: the user's if given (and
// unused), otherwise kind-N.
func (b *Builder) newName(kind, user string) string {
	if user != "" {
		if b.names[user] {
			b.fail(fmt.Errorf("stream: name %q used twice", user))
		}
		b.names[user] = true
		return user
	}
	for i := len(b.nodes); ; i++ {
		n := fmt.Sprintf("%s-%d", kind, i)
		if !b.names[n] {
			b.names[n] = true
			return n
		}
	}
}

func (b *Builder) addNode(n *node, parents ...*node) *node {
	n.id = len(b.nodes)
	b.nodes = append(b.nodes, n)
	for _, p := range parents {
		p.children = append(p.children, n)
		n.parents = append(n.parents, p)
	}
	return n
}

// Topology is a built, immutable topology, ready to run with NewApp or
// streamtest.
type Topology struct {
	nodes   []*node
	subs    []*subTopology
	global  *subTopology // global-table sources and their stores, or nil
	stores  map[string]*storeSpec
	sources map[topicRef]*node
}

// subTopology is a connected part of the topology: every partition of its
// source topics becomes one task (partition p of every source topic goes
// to the same task, so its sources must be co-partitioned).
type subTopology struct {
	id      int
	nodes   []*node
	sources []topicRef
	stores  []*storeSpec
}

// Build checks the topology and splits it into sub-topologies.
func (b *Builder) Build() (*Topology, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.nodes) == 0 {
		return nil, errors.New("stream: empty topology")
	}
	t := &Topology{nodes: b.nodes, stores: b.stores, sources: map[topicRef]*node{}}
	// Union-find over parent-child edges and shared stores.
	parent := make([]int, len(b.nodes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	storeOwner := map[string]int{}
	for _, n := range b.nodes {
		for _, c := range n.children {
			union(n.id, c.id)
		}
		for _, s := range n.stores {
			if o, ok := storeOwner[s]; ok {
				union(o, n.id)
			} else {
				storeOwner[s] = n.id
			}
		}
		if n.source != nil {
			if prev, ok := t.sources[*n.source]; ok {
				// Two reads of one topic: the same sub-topology must own both.
				union(prev.id, n.id)
				if prev.global != n.global {
					return nil, fmt.Errorf("stream: topic %q read both as a global table and as a stream or table", n.source.name)
				}
			} else {
				t.sources[*n.source] = n
			}
		}
	}
	for name := range b.stores {
		if _, ok := storeOwner[name]; !ok {
			return nil, fmt.Errorf("stream: store %q is not used by any operator", name)
		}
	}
	groups := map[int]*subTopology{}
	var roots []int
	for _, n := range b.nodes {
		r := find(n.id)
		g, ok := groups[r]
		if !ok {
			g = &subTopology{}
			groups[r] = g
			roots = append(roots, r)
		}
		g.nodes = append(g.nodes, n)
	}
	sort.Ints(roots)
	for _, r := range roots {
		g := groups[r]
		global := false
		for _, n := range g.nodes {
			if n.global {
				global = true
			}
		}
		seenStore := map[string]bool{}
		for _, n := range g.nodes {
			if n.source != nil {
				if n.global != global {
					return nil, fmt.Errorf("stream: global table %q is fed by other operators", n.name)
				}
				g.sources = append(g.sources, *n.source)
			}
			for _, s := range n.stores {
				if !seenStore[s] {
					seenStore[s] = true
					g.stores = append(g.stores, b.stores[s])
				}
			}
		}
		if len(g.sources) == 0 {
			return nil, fmt.Errorf("stream: operators without a source (%s)", g.nodes[0].name)
		}
		if global {
			if t.global != nil {
				// All global tables share one global task.
				t.global.nodes = append(t.global.nodes, g.nodes...)
				t.global.sources = append(t.global.sources, g.sources...)
				t.global.stores = append(t.global.stores, g.stores...)
			} else {
				g.id = -1
				t.global = g
			}
			continue
		}
		g.id = len(t.subs)
		t.subs = append(t.subs, g)
	}
	for _, g := range t.subs {
		for _, n := range g.nodes {
			n.sub = g.id
		}
	}
	if t.global != nil {
		for _, n := range t.global.nodes {
			n.sub = -1
		}
	}
	return t, nil
}

// upstream returns the sub-topologies that write to the topics g reads:
// all of them (internal topics false) or through internal topics only.
func (t *Topology) upstream(g *subTopology, withUser bool) []*subTopology {
	reads := map[topicRef]bool{}
	for _, s := range g.sources {
		if s.internal || withUser {
			reads[s] = true
		}
	}
	var out []*subTopology
	for _, u := range t.subs {
		for _, n := range u.nodes {
			if n.sink != nil && reads[*n.sink] && u != g {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// subOrder returns the sub-topologies with each after those that write to
// the topics it reads (but for cycles through user topics).
func (t *Topology) subOrder() []*subTopology {
	done := map[*subTopology]bool{}
	var out []*subTopology
	var visit func(g *subTopology)
	visit = func(g *subTopology) {
		if done[g] {
			return
		}
		done[g] = true
		for _, u := range t.upstream(g, true) {
			visit(u)
		}
		out = append(out, g)
	}
	for _, g := range t.subs {
		visit(g)
	}
	return out
}

// String describes the topology: sub-topologies, their sources, operators
// and stores, one per line (like Kafka Streams' TopologyDescription).
func (t *Topology) String() string {
	var sb strings.Builder
	describe := func(g *subTopology, title string) {
		fmt.Fprintf(&sb, "%s\n", title)
		for _, n := range g.nodes {
			fmt.Fprintf(&sb, "  %s", n.name)
			if n.source != nil {
				fmt.Fprintf(&sb, " <- %s", topicLabel(*n.source))
			}
			if n.sink != nil {
				fmt.Fprintf(&sb, " -> %s", topicLabel(*n.sink))
			}
			if len(n.children) > 0 {
				var cs []string
				for _, c := range n.children {
					cs = append(cs, c.name)
				}
				fmt.Fprintf(&sb, " => %s", strings.Join(cs, ", "))
			}
			if len(n.stores) > 0 {
				fmt.Fprintf(&sb, " [stores: %s]", strings.Join(n.stores, ", "))
			}
			sb.WriteByte('\n')
		}
	}
	for _, g := range t.subs {
		describe(g, fmt.Sprintf("sub-topology %d", g.id))
	}
	if t.global != nil {
		describe(t.global, "global")
	}
	return sb.String()
}

func topicLabel(r topicRef) string {
	if r.internal {
		return "${app}-" + r.name
	}
	return r.name
}

// SourceTopics returns the topics the topology reads, with internal topics
// resolved for the application id.
func (t *Topology) SourceTopics(appID string) []string {
	var out []string
	for r := range t.sources {
		out = append(out, r.resolve(appID))
	}
	sort.Strings(out)
	return out
}
