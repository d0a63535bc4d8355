// Package txn is Eddy's transaction coordinator: the broker side of
// InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// DescribeTransactions and ListTransactions, written as a state machine
// with no goroutines, no clock and no I/O, driven like the group
// coordinator (coord/group).
//
// # Driving it
//
// A [Coordinator] holds every transactional id. Each request method takes
// the current time, the decoded kmsg request and a [ReplyTo] token the
// caller chooses, and returns an [Output]:
//
//   - Output.Records are key/value pairs for the compacted internal topic
//     __transaction_state (one partition), in Kafka's own byte format
//     (kmsg.TxnMetadataKey and TxnMetadataValue; a nil Value is a
//     tombstone), so Kafka's tools can read the topic.
//   - Output.Replies are responses to send, each addressed to the ReplyTo
//     of the request it answers. No request is parked: every request is
//     answered in the Output of its own call.
//   - Output.Markers are transactions to end on their partitions: the
//     caller appends a commit or abort marker for the producer to every
//     partition listed (storage.Log.AppendMarker), waits until they are
//     durable, and reports with [Coordinator.MarkersWritten], which records
//     the transaction's completion.
//
// The caller MUST append Output.Records durably, in order, before it sends
// any of Output.Replies or writes any of Output.Markers: a transaction is
// acknowledged, and its markers written, only once its decision is
// durable, so a crash can never leave a marker without the decision that
// explains it. Replies of a call without records should also wait until
// the records of earlier calls are durable (they may answer from state
// those records describe). If an append fails, the caller must drop the
// replies and markers and rebuild the coordinator from the log (New,
// Restore for every record, Recover), the way Kafka moves a coordinator:
// clients see their requests fail and retry.
//
// Time only moves when the caller says so. Transactions time out and idle
// transactional ids expire at deadlines; [Coordinator.NextDeadline] tells
// the caller when to call [Coordinator.Tick] next. Every call first fires
// the deadlines that have passed, so the outcome never depends on how late
// Tick runs. A time earlier than one already seen is treated as that
// earlier-seen time.
//
// At start the caller replays __transaction_state with
// [Coordinator.Restore] and then calls [Coordinator.Recover], whose Output
// asks again for the markers of every transaction left in PrepareCommit or
// PrepareAbort: a commit interrupted by a crash completes.
//
// A Coordinator is not safe for concurrent use; the broker serializes
// calls (one mutex around it is enough). Responses may share byte slices
// with the coordinator's state: encode them, do not modify them.
//
// # What it implements
//
// Apache Kafka's TransactionCoordinator as of transaction.version 1
// (KIP-98): transactional ids bound to a producer id and epoch;
// InitProducerId bumping the epoch to fence older instances, rotating to a
// new producer id when epochs run out, and fencing (aborting with a bumped
// epoch) a transaction left Ongoing; KIP-360 (a producer naming its id and
// epoch to continue after an error, with retries answered the same);
// KIP-588's PRODUCER_FENCED, sent as INVALID_PRODUCER_EPOCH to request
// versions older than it; the states Empty, Ongoing, PrepareCommit,
// PrepareAbort, CompleteCommit and CompleteAbort persisted exactly as
// Kafka persists them; transaction timeouts that abort with an epoch bump
// (so the zombie producer is fenced on every partition by the marker's
// epoch); transactional.id.expiration.ms; KIP-664 DescribeTransactions
// and ListTransactions (v1's duration filter, KIP-994); and AddPartitionsToTxn
// v4+ batching with VerifyOnly (KIP-890 part 1).
//
// KIP-890 part 2 (transaction.version 2: an epoch bump at every EndTxn and
// partitions added implicitly by Produce v12) is not implemented: the
// broker must not advertise the transaction.version feature, and EndTxn
// v5 is served with version 1 semantics. ListTransactions v2 (a
// transactional id pattern) and two-phase commit (KIP-939) are not served.
//
// # What the broker still does
//
// The coordinator does not know topics or ACLs. The broker checks
// authorization, answers AddPartitionsToTxn itself when a partition does
// not exist (UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED
// for the others), allocates producer ids durably (Config.AllocateProducerID),
// writes markers, refuses transactional produce to partitions for which
// [Coordinator.IsPartitionInTxn] is false, and tells the group coordinator
// how transactional offsets end: a marker on a __consumer_offsets
// partition commits or drops the offsets the producer wrote there through
// TxnOffsetCommit.
package txn
