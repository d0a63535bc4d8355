package broker

import "sort"

// Read-only views of the broker's state for programs that embed it (the
// metrics collector, the HTTP gateway). They take the locks they need and
// return copies.

// GroupLag is one consumer group's committed offsets and lag.
type GroupLag struct {
	Group   string
	State   string
	Members int
	// Partitions are the group's committed offsets, sorted by topic and
	// partition.
	Partitions []PartitionLag
}

// PartitionLag is a group's position on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	Committed int64
	// HighWatermark is the partition's high watermark, -1 if the topic or
	// partition no longer exists.
	HighWatermark int64
	// Lag is HighWatermark-Committed (0 at least), -1 if unknown.
	Lag int64
}

// GroupLags returns every consumer group with its committed offsets and
// lag, sorted by group name.
func (b *Broker) GroupLags() []GroupLag {
	g := b.groups
	if g == nil {
		return nil
	}
	var out []GroupLag
	g.mu.Lock()
	for _, l := range g.mu.c.Groups() {
		gl := GroupLag{Group: l.Group, State: l.State.String(), Members: l.Members}
		for _, o := range g.mu.c.Offsets(l.Group) {
			gl.Partitions = append(gl.Partitions, PartitionLag{Topic: o.Topic, Partition: o.Partition, Committed: o.Offset})
		}
		out = append(out, gl)
	}
	g.mu.Unlock()
	// Offsets are read without the coordinator's lock held.
	for i := range out {
		for j := range out[i].Partitions {
			pl := &out[i].Partitions[j]
			pl.HighWatermark, pl.Lag = -1, -1
			if t := b.topic(pl.Topic); t != nil {
				if p := b.partition(t, pl.Partition); p != nil {
					pl.HighWatermark = p.log.HighWatermark()
					pl.Lag = max(pl.HighWatermark-pl.Committed, 0)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
