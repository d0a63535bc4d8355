package group

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidConfig is wrapped by the error New returns for a Config it
// rejects.
var ErrInvalidConfig = errors.New("group: invalid config")

// Config configures a Coordinator. Start from DefaultConfig, which has
// Apache Kafka's defaults, and change what differs: New does not fill in
// zero fields, because zero is meaningful for some of them.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: the first
	// rebalance of an Empty group waits this long for more members, and
	// waits again (up to the group's rebalance timeout in total) each time
	// another member joins meanwhile. With 0, the first rebalance completes
	// as soon as it starts. Default 3s.
	InitialRebalanceDelay time.Duration

	// MinSessionTimeout and MaxSessionTimeout are
	// group.min.session.timeout.ms and group.max.session.timeout.ms: a
	// JoinGroup whose session timeout lies outside them fails with
	// INVALID_SESSION_TIMEOUT. Defaults 6s and 30m.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration

	// MaxGroupSize is group.max.size: a group does not take more members
	// (GROUP_MAX_SIZE_REACHED). Default math.MaxInt32.
	MaxGroupSize int

	// NewMemberJoinTimeout bounds how long a new member's first JoinGroup
	// may stay parked before the member is dropped (Kafka's
	// group.coordinator.new.member.join.timeout, not a public config).
	// Default 5m.
	NewMemberJoinTimeout time.Duration

	// OffsetsRetention is offsets.retention.minutes: how long committed
	// offsets outlive a group that became Empty, or their last commit for
	// simple groups and for topics a Stable consumer group no longer
	// subscribes to. Default 7 days (168h).
	OffsetsRetention time.Duration

	// OffsetsRetentionCheckInterval is
	// offsets.retention.check.interval.ms: how often Tick looks for
	// expired offsets and for Empty groups left with none. Default 10m.
	OffsetsRetentionCheckInterval time.Duration

	// MaxOffsetMetadataBytes is offset.metadata.max.bytes: a longer commit
	// metadata string fails with OFFSET_METADATA_TOO_LARGE. Default 4096.
	MaxOffsetMetadataBytes int

	// NewMemberID makes a member id from prefix, which is the member's
	// group.instance.id if it has one and its client id otherwise. The
	// coordinator retries if the id is already taken in the group, and
	// then adds a numeric suffix. Default (nil): prefix + "-" + a random
	// UUID, as Kafka does. Tests set a deterministic function.
	NewMemberID func(prefix string) string
}

// DefaultConfig returns Apache Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay:         3 * time.Second,
		MinSessionTimeout:             6 * time.Second,
		MaxSessionTimeout:             30 * time.Minute,
		MaxGroupSize:                  math.MaxInt32,
		NewMemberJoinTimeout:          5 * time.Minute,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		MaxOffsetMetadataBytes:        4096,
	}
}

func (cfg *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.InitialRebalanceDelay < 0:
		return bad("negative InitialRebalanceDelay %v", cfg.InitialRebalanceDelay)
	case cfg.MinSessionTimeout < 0:
		return bad("negative MinSessionTimeout %v", cfg.MinSessionTimeout)
	case cfg.MaxSessionTimeout < cfg.MinSessionTimeout:
		return bad("MaxSessionTimeout %v below MinSessionTimeout %v", cfg.MaxSessionTimeout, cfg.MinSessionTimeout)
	case cfg.MaxGroupSize < 1:
		return bad("MaxGroupSize %d below 1", cfg.MaxGroupSize)
	case cfg.NewMemberJoinTimeout <= 0:
		return bad("NewMemberJoinTimeout %v not positive", cfg.NewMemberJoinTimeout)
	case cfg.OffsetsRetention <= 0:
		return bad("OffsetsRetention %v not positive", cfg.OffsetsRetention)
	case cfg.OffsetsRetentionCheckInterval <= 0:
		return bad("OffsetsRetentionCheckInterval %v not positive", cfg.OffsetsRetentionCheckInterval)
	case cfg.MaxOffsetMetadataBytes < 0:
		return bad("negative MaxOffsetMetadataBytes %d", cfg.MaxOffsetMetadataBytes)
	}
	if cfg.NewMemberID == nil {
		cfg.NewMemberID = randomMemberID
	}
	return nil
}

// randomMemberID is Kafka's member id: the prefix, a dash and a random
// (version 4) UUID.
func randomMemberID(prefix string) string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand panics rather than return an error)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
