package txn

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig is wrapped by the error New returns for a Config it
// rejects.
var ErrInvalidConfig = errors.New("txn: invalid config")

// Config configures a Coordinator. Start from DefaultConfig and set
// AllocateProducerID, which has no default.
type Config struct {
	// TransactionMaxTimeout is transaction.max.timeout.ms: InitProducerId
	// with a longer (or non-positive) transaction timeout fails with
	// INVALID_TRANSACTION_TIMEOUT. Default 15m.
	TransactionMaxTimeout time.Duration

	// TransactionalIDExpiration is transactional.id.expiration.ms: a
	// transactional id left Empty, CompleteCommit or CompleteAbort this long
	// after its last update is forgotten (a tombstone is written). Default
	// 7 days.
	TransactionalIDExpiration time.Duration

	// OffsetsTopicPartitions is the partition count of __consumer_offsets:
	// AddOffsetsToTxn adds the partition a group maps to (PartitionFor).
	// Default 1, Eddy's; Kafka's offsets.topic.num.partitions is 50.
	OffsetsTopicPartitions int32

	// CoordinatorEpoch is written into every marker the coordinator asks
	// for (Kafka uses the leader epoch of the __transaction_state
	// partition). Partitions remember the epoch of the last marker of each
	// producer. Default 0.
	CoordinatorEpoch int32

	// AllocateProducerID returns a producer id never handed out before, not
	// even before a crash: the broker makes the allocation durable. It is
	// called for a new transactional id, when an id's epochs are exhausted,
	// and for an InitProducerId without a transactional id. If it fails the
	// request is answered COORDINATOR_NOT_AVAILABLE, which clients retry.
	// Required.
	AllocateProducerID func() (int64, error)
}

// DefaultConfig returns Apache Kafka's defaults, except
// OffsetsTopicPartitions (Eddy's) and AllocateProducerID (none).
func DefaultConfig() Config {
	return Config{
		TransactionMaxTimeout:     15 * time.Minute,
		TransactionalIDExpiration: 7 * 24 * time.Hour,
		OffsetsTopicPartitions:    1,
	}
}

func (cfg *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.TransactionMaxTimeout < time.Millisecond:
		return bad("TransactionMaxTimeout %v below 1ms", cfg.TransactionMaxTimeout)
	case cfg.TransactionalIDExpiration <= 0:
		return bad("TransactionalIDExpiration %v not positive", cfg.TransactionalIDExpiration)
	case cfg.OffsetsTopicPartitions < 1:
		return bad("OffsetsTopicPartitions %d below 1", cfg.OffsetsTopicPartitions)
	case cfg.CoordinatorEpoch < 0:
		return bad("negative CoordinatorEpoch %d", cfg.CoordinatorEpoch)
	case cfg.AllocateProducerID == nil:
		return bad("AllocateProducerID is required")
	}
	return nil
}
