// Package group is Eddy's classic consumer-group coordinator: the broker
// side of JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete and
// TxnOffsetCommit, written as a state machine with no goroutines, no clock
// and no I/O.
//
// # Driving it
//
// A [Coordinator] holds every group. Each request method takes the current
// time, the decoded kmsg request and a [ReplyTo] token the caller chooses,
// and returns an [Output]:
//
//   - Output.Records are key/value pairs for the compacted internal topic
//     __consumer_offsets, in Kafka's own byte format (kmsg.OffsetCommitKey
//     and OffsetCommitValue, kmsg.GroupMetadataKey and GroupMetadataValue; a
//     nil Value is a tombstone), so Kafka's tools can read the topic.
//   - Output.Replies are responses to send, each addressed to the ReplyTo of
//     the request it answers.
//
// A record with Record.ProducerID >= 0 belongs to that producer's
// transaction (TxnOffsetCommit): the caller appends it in a transactional
// batch of that producer, and replays it with RestoreTxnRecord.
//
// The caller MUST append Output.Records durably, in order, before it sends
// any of Output.Replies: a committed offset or a completed rebalance is
// acknowledged only once it is durable. If the append fails, the caller
// must drop the replies and rebuild the coordinator from the log (New, then
// Restore for every record, as after a crash), the way Kafka moves a
// coordinator: clients see their requests fail and retry.
//
// State changes take effect at once: a later call may see what an earlier
// Output's records say before the caller has made them durable (an
// OffsetFetch served while a commit's append is in flight sees the new
// offset). A caller that wants reads to see only durable state appends
// before its next call.
//
// JoinGroup and SyncGroup requests may be parked: their reply is not in the
// Output of the call that took them, but in the Output of a later call that
// completes them (another member's JoinGroup or SyncGroup, a LeaveGroup, or
// [Coordinator.Tick] when a timer fires). Every request gets exactly one
// reply, eventually: a parked request is answered when the rebalance
// completes, with an error when its member is removed, fenced or superseded
// by a newer request of the same member, or when a timer fires.
//
// Transactions (KIP-98, KIP-447): TxnOffsetCommit leaves its offsets
// pending for (group, producer), invisible to OffsetFetch, until the
// producer's commit or abort marker is written to __consumer_offsets; the
// caller then calls [Coordinator.CompleteTransaction], and on restart
// replays markers with [Coordinator.RestoreMarker] in log order among the
// records. Checking the producer's epoch and that the group is part of its
// transaction is the transaction coordinator's job: the caller asks it
// before passing TxnOffsetCommit on.
//
// Time only moves when the caller says so: the coordinator arms deadlines
// (session timeouts, rebalance timeouts, the initial rebalance delay,
// KIP-394 pending members, the offset-retention sweep) and
// [Coordinator.NextDeadline] tells the caller when to call
// [Coordinator.Tick] next. Every call first fires the deadlines that have
// passed, each as of its own time, so a late Tick changes nothing but when
// replies go out. A time earlier than one already seen is treated as that
// earlier-seen time.
//
// A Coordinator is not safe for concurrent use; the broker serializes calls
// (one mutex around it is enough). Responses may share byte slices with the
// coordinator's state: encode them, do not modify them.
//
// # What it implements
//
// The classic protocol as Apache Kafka's GroupCoordinator runs it:
// generations; the group states Empty, PreparingRebalance,
// CompletingRebalance and Stable (Dead is what DescribeGroups says of an
// unknown group); protocol selection by vote among the protocols every
// member supports; the leader receiving all members' metadata and
// distributing assignments through SyncGroup; KIP-394 member ids
// (MEMBER_ID_REQUIRED); KIP-345 static membership (group.instance.id) with
// fencing; rebalance and session timeouts; group.initial.rebalance.delay.ms;
// group.max.size; offset retention (offsets of Empty groups, of simple
// groups, and of topics a Stable consumer group no longer subscribes to);
// transactional offset commits (KIP-98) with KIP-447's member checks and
// RequireStable;
// and, on restart, groups restored from __consumer_offsets keep their
// generation and members, as after a Kafka coordinator failover.
// KIP-848 (the consumer group protocol) is not implemented; KIP-429
// cooperative rebalancing needs nothing from the broker.
//
// Where this coordinator knowingly differs from Kafka, the doc comment of
// the method concerned says so.
//
// # What the broker still does
//
// The coordinator does not know topics, ACLs or other brokers. The broker
// answers UNKNOWN_TOPIC_OR_PARTITION and authorization errors itself,
// passing on only what the coordinator should see, fills
// AuthorizedOperations in DescribeGroups, and advertises only the versions
// listed on each request method (topic ids in OffsetCommit and OffsetFetch
// v10+ are not handled).
package group
