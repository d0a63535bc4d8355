package txn

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func testConfig() Config {
	cfg := DefaultConfig()
	next := int64(0)
	cfg.AllocateProducerID = func() (int64, error) { next++; return next, nil }
	return cfg
}

func TestConfigValidation(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"no allocator":          func(c *Config) { c.AllocateProducerID = nil },
		"max timeout below 1ms": func(c *Config) { c.TransactionMaxTimeout = time.Microsecond },
		"no expiration":         func(c *Config) { c.TransactionalIDExpiration = 0 },
		"no offsets partition":  func(c *Config) { c.OffsetsTopicPartitions = 0 },
		"negative epoch":        func(c *Config) { c.CoordinatorEpoch = -1 },
	} {
		cfg := testConfig()
		change(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := New(testConfig()); err != nil {
		t.Fatal(err)
	}
}

// PartitionFor must agree with Kafka's Utils.abs(key.hashCode) % n.
func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int32
		want int32
	}{
		{"", 50, 0},
		{"a", 50, 97 % 50},
		{"ab", 50, (97*31 + 98) % 50},
		// Java's "polygenelubricants".hashCode() is Integer.MIN_VALUE,
		// which Kafka's Utils.abs maps to 0.
		{"polygenelubricants", 50, 0},
		// A character outside the BMP hashes as its two UTF-16 units:
		// 0xD83D*31 + 0xDE00.
		{"\U0001F600", 1 << 30, 0xD83D*31 + 0xDE00},
		{"anything", 1, 0},
	} {
		if got := PartitionFor(tc.key, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
	// A negative hash ("GroupA"... any key whose hash overflows) lands in
	// range.
	for _, key := range []string{"consumer-group-with-a-long-name", "zzzzzzzzzzzzzzzz", "my-group"} {
		if p := PartitionFor(key, 50); p < 0 || p >= 50 {
			t.Errorf("PartitionFor(%q) = %d", key, p)
		}
	}
}

func TestRestoreErrors(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	key := txnKey("a")
	value := func(state int8) []byte {
		v := kmsg.NewTxnMetadataValue()
		v.ProducerID, v.TimeoutMillis, v.State = 1, 1000, kmsg.TransactionState(state)
		return v.AppendTo(nil)
	}
	for name, rec := range map[string][2][]byte{
		"short key":          {{0}, value(0)},
		"truncated key":      {key[:len(key)-1], value(0)},
		"truncated value":    {key, value(0)[:5]},
		"PrepareEpochFence":  {key, value(7)},
		"unknown state code": {key, value(9)},
	} {
		if err := c.Restore(rec[0], rec[1]); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Restore = %v, want ErrBadRecord", name, err)
		}
	}
	// Another key version is not a transaction record: ignored.
	other := append([]byte{0, 1}, key[2:]...)
	if err := c.Restore(other, []byte("whatever")); err != nil {
		t.Errorf("other key version: %v", err)
	}
	// Dead forgets, like a tombstone.
	if err := c.Restore(key, value(0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(key, value(6)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Transaction("a"); ok {
		t.Error("a Dead record left the id behind")
	}
	c.Tick(time.Unix(0, 0))
	if err := c.Restore(key, value(0)); !errors.Is(err, ErrStarted) {
		t.Errorf("Restore after a call = %v, want ErrStarted", err)
	}
}

func TestHandleOther(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Handle(time.Unix(0, 0), kmsg.NewPtrHeartbeatRequest(), nil); ok {
		t.Error("Handle took a Heartbeat")
	}
}

// An idempotent InitProducerId whose allocation fails is retriable and
// records nothing.
func TestIdempotentAllocationFailure(t *testing.T) {
	cfg := testConfig()
	cfg.AllocateProducerID = func() (int64, error) { return 0, errors.New("disk full") }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := c.InitProducerID(time.Unix(0, 0), kmsg.NewPtrInitProducerIDRequest(), 1)
	resp := out.Replies[0].Response.(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != kerr.CoordinatorNotAvailable.Code || resp.ProducerID != -1 || len(out.Records) != 0 {
		t.Errorf("got %+v with %d records", resp, len(out.Records))
	}
}

// The views copy: changing what they return changes nothing inside.
func TestViewsCopy(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(100, 0)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = kmsg.StringPtr("a")
	init.TransactionTimeoutMillis = 1000
	c.InitProducerID(now, init, nil)
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "a", 1, 0
	add.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	c.AddPartitionsToTxn(now, add, nil)
	d, _ := c.Transaction("a")
	d.Partitions[0].Topic = "changed"
	if !c.IsPartitionInTxn(1, 0, "t", 0) || c.IsPartitionInTxn(1, 0, "changed", 0) {
		t.Error("the view shares the partitions")
	}
	if id, ok := c.TransactionalID(1); !ok || id != "a" {
		t.Errorf("TransactionalID(1) = %q, %t", id, ok)
	}
}
