package broker

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streaming/eddy/storage"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// configType mirrors Kafka's ConfigEntry types, as DescribeConfigs v3+
// reports them.
type configType int8

const (
	typeBoolean configType = 1
	typeString  configType = 2
	typeInt     configType = 3
	typeShort   configType = 4
	typeLong    configType = 5
	typeDouble  configType = 6
	typeList    configType = 7
)

// Config sources, as DescribeConfigs reports them.
const (
	sourceTopic         int8 = 1 // TOPIC_CONFIG: set on the topic
	sourceDynamicBroker int8 = 2 // DYNAMIC_BROKER_CONFIG
	sourceStaticBroker  int8 = 4 // STATIC_BROKER_CONFIG: the config file or flags
	sourceDefault       int8 = 5 // DEFAULT_CONFIG
)

// configDef describes one config. Topic configs name the broker config that
// supplies their default (Kafka's synonyms: retention.ms <- log.retention.ms).
type configDef struct {
	name     string
	broker   string // the broker-level synonym; "" if none
	typ      configType
	def      string
	doc      string
	validate func(string) error
}

func validLong(lo, hi int64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		if v < lo || v > hi {
			return fmt.Errorf("%d is outside [%d, %d]", v, lo, hi)
		}
		return nil
	}
}

func validBool(s string) error {
	if _, err := strconv.ParseBool(strings.TrimSpace(s)); err != nil {
		return fmt.Errorf("%q is not a boolean", s)
	}
	return nil
}

func validOneOf(vals ...string) func(string) error {
	return func(s string) error {
		for _, v := range vals {
			if s == v {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(vals, ", "))
	}
}

func validCleanupPolicy(s string) error {
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p != "delete" && p != "compact" {
			return fmt.Errorf("%q is not delete, compact or compact,delete", s)
		}
		seen[p] = true
	}
	return nil
}

func validRatio(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v > 1 {
		return fmt.Errorf("%q is not a ratio in [0, 1]", s)
	}
	return nil
}

const maxLong = math.MaxInt64

// topicConfigDefs are the topic-level configs Eddy knows, with Kafka's
// names and defaults. Every one is stored, reported and validated; the ones
// the log acts on are mapped in logConfig.
var topicConfigDefs = []configDef{
	{"cleanup.policy", "log.cleanup.policy", typeList, "delete", "delete, compact, or compact,delete", validCleanupPolicy},
	{"compression.type", "compression.type", typeString, "producer", "Eddy stores batches as the producer compressed them; only 'producer' is supported", validOneOf("producer")},
	{"delete.retention.ms", "log.cleaner.delete.retention.ms", typeLong, "86400000", "how long tombstones are kept on compacted topics", validLong(0, maxLong)},
	{"file.delete.delay.ms", "log.segment.delete.delay.ms", typeLong, "60000", "delay before a deleted segment's file is removed", validLong(0, maxLong)},
	{"flush.messages", "log.flush.interval.messages", typeLong, "1", "1: every batch is fsynced (group commit) before it is acknowledged to acks=all producers and shown to consumers; larger: rely on the OS to write back", validLong(1, maxLong)},
	{"flush.ms", "log.flush.interval.ms", typeLong, strconv.FormatInt(maxLong, 10), "kept for compatibility; see flush.messages", validLong(0, maxLong)},
	{"index.interval.bytes", "log.index.interval.bytes", typeInt, "4096", "bytes between entries of the sparse offset and time indexes", validLong(1, math.MaxInt32)},
	{"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", typeLong, strconv.FormatInt(maxLong, 10), "longest time a record may stay uncompacted", validLong(1, maxLong)},
	{"max.message.bytes", "message.max.bytes", typeInt, "1048588", "largest record batch the topic accepts", validLong(0, 256<<20)},
	{"message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", typeLong, "3600000", "how far in the future a CreateTime timestamp may be", validLong(0, maxLong)},
	{"message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", typeLong, strconv.FormatInt(maxLong, 10), "how far in the past a CreateTime timestamp may be", validLong(0, maxLong)},
	{"message.timestamp.type", "log.message.timestamp.type", typeString, "CreateTime", "CreateTime or LogAppendTime", validOneOf("CreateTime", "LogAppendTime")},
	{"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", typeDouble, "0.5", "dirty fraction of a compacted log that triggers cleaning", validRatio},
	{"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", typeLong, "0", "shortest time a record stays uncompacted", validLong(0, maxLong)},
	{"min.insync.replicas", "min.insync.replicas", typeInt, "1", "Eddy is a single replica; kept for compatibility", validLong(1, math.MaxInt32)},
	{"preallocate", "log.preallocate", typeBoolean, "false", "kept for compatibility", validBool},
	{"retention.bytes", "log.retention.bytes", typeLong, "-1", "delete old segments while the partition is larger; -1 unlimited", validLong(-1, maxLong)},
	{"retention.ms", "log.retention.ms", typeLong, "604800000", "delete segments whose newest record is older; -1 forever", validLong(-1, maxLong)},
	{"segment.bytes", "log.segment.bytes", typeInt, "1073741824", "size at which a segment is rolled", validLong(14, math.MaxInt32)},
	{"segment.index.bytes", "log.index.size.max.bytes", typeInt, "10485760", "kept for compatibility; Eddy's indexes grow as needed", validLong(4, math.MaxInt32)},
	{"segment.jitter.ms", "log.roll.jitter.ms", typeLong, "0", "kept for compatibility", validLong(0, maxLong)},
	{"segment.ms", "log.roll.ms", typeLong, "604800000", "age at which the active segment is rolled", validLong(1, maxLong)},
	{"unclean.leader.election.enable", "unclean.leader.election.enable", typeBoolean, "false", "kept for compatibility", validBool},
}

// brokerOnlyDefs are broker configs with no topic-level counterpart.
var brokerOnlyDefs = []configDef{
	{"auto.create.topics.enable", "", typeBoolean, "true", "create topics on Metadata requests for unknown topics", validBool},
	{"num.partitions", "", typeInt, "1", "partitions of auto-created topics and of CreateTopics without a count", validLong(1, 100000)},
	{"default.replication.factor", "", typeShort, "1", "Eddy is a single replica", validLong(1, 1)},
	{"socket.request.max.bytes", "", typeInt, "104857600", "largest request accepted; larger closes the connection", validLong(1024, math.MaxInt32)},
	{"queued.max.request.bytes", "", typeLong, "268435456", "request bytes buffered across all connections before reading pauses", validLong(1<<20, maxLong)},
	{"log.retention.check.interval.ms", "", typeLong, "300000", "how often retention runs", validLong(1, maxLong)},
	{"delete.topic.enable", "", typeBoolean, "true", "allow DeleteTopics", validBool},
	{"log.cleaner.backoff.ms", "", typeLong, "15000", "how often the log cleaner looks for compacted partitions to clean", validLong(1, maxLong)},
	{"log.cleaner.dedupe.buffer.size", "", typeLong, "134217728", "memory for the cleaner's key map (about 40 bytes a key)", validLong(1<<16, maxLong)},
	{"group.initial.rebalance.delay.ms", "", typeInt, "3000", "how long the first rebalance of an empty group waits for more members", validLong(0, math.MaxInt32)},
	{"group.min.session.timeout.ms", "", typeInt, "6000", "smallest session timeout a member may ask for", validLong(1, math.MaxInt32)},
	{"group.max.session.timeout.ms", "", typeInt, "1800000", "largest session timeout a member may ask for", validLong(1, math.MaxInt32)},
	{"group.max.size", "", typeInt, "2147483647", "most members a group may have", validLong(1, math.MaxInt32)},
	{"offsets.retention.minutes", "", typeInt, "10080", "how long committed offsets outlive an empty group", validLong(1, math.MaxInt32)},
	{"offsets.retention.check.interval.ms", "", typeLong, "600000", "how often expired offsets are removed", validLong(1, maxLong)},
	{"offset.metadata.max.bytes", "", typeInt, "4096", "longest metadata string of a committed offset", validLong(0, math.MaxInt32)},
	{"transaction.max.timeout.ms", "", typeInt, "900000", "longest transaction timeout a producer may ask for", validLong(1, math.MaxInt32)},
	{"transactional.id.expiration.ms", "", typeInt, "604800000", "how long an idle transactional id is remembered", validLong(1, math.MaxInt32)},
	{"fetch.max.bytes", "", typeInt, "57671680", "largest fetch response", validLong(1024, math.MaxInt32)},
	{"eddy.fetch.memory.bytes", "", typeLong, "268435456", "fetch response bytes held in memory across all connections; fetches wait for room (back-pressure)", validLong(1<<20, maxLong)},
}

var (
	topicDefsByName  = map[string]*configDef{}
	brokerDefsByName = map[string]*configDef{} // by broker name
)

func init() {
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		topicDefsByName[d.name] = d
		brokerDefsByName[d.broker] = d
	}
	for i := range brokerOnlyDefs {
		d := &brokerOnlyDefs[i]
		brokerDefsByName[d.name] = d
	}
	// Kafka's coarser broker synonyms, accepted in the config file.
	brokerAliases = map[string]func(string) (string, string, error){
		"log.retention.hours":   scaleAlias("log.retention.ms", 3600000),
		"log.retention.minutes": scaleAlias("log.retention.ms", 60000),
		"log.roll.hours":        scaleAlias("log.roll.ms", 3600000),
	}
}

var brokerAliases map[string]func(string) (string, string, error)

func scaleAlias(target string, mult int64) func(string) (string, string, error) {
	return func(v string) (string, string, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", "", fmt.Errorf("%q is not an integer", v)
		}
		if n < 0 {
			return target, "-1", nil
		}
		return target, strconv.FormatInt(n*mult, 10), nil
	}
}

// brokerSettings is the broker's config: the static values from the config
// file and flags over the defaults, plus dynamic values set through
// AlterConfigs / IncrementalAlterConfigs on the broker resource.
type brokerSettings struct {
	static map[string]string // never changes after New

	mu      sync.RWMutex
	dynamic map[string]string // guarded by mu
}

// setDynamic replaces the dynamic broker configs (already validated).
func (s *brokerSettings) setDynamic(m map[string]string) {
	s.mu.Lock()
	s.dynamic = m
	s.mu.Unlock()
}

// dynamicCopy returns a copy of the dynamic broker configs.
func (s *brokerSettings) dynamicCopy() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := make(map[string]string, len(s.dynamic))
	for k, v := range s.dynamic {
		m[k] = v
	}
	return m
}

// normalizeBrokerConfig validates broker configs (Kafka names) and folds
// aliases (log.retention.hours) into their canonical names.
func normalizeBrokerConfig(in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := in[k]
		if alias, ok := brokerAliases[k]; ok {
			nk, nv, err := alias(v)
			if err != nil {
				return nil, fmt.Errorf("broker config %s: %w", k, err)
			}
			if _, set := in[nk]; !set {
				out[nk] = nv
			}
			continue
		}
		d := brokerDefsByName[k]
		if d == nil {
			return nil, fmt.Errorf("unknown broker config %q", k)
		}
		if err := d.validate(v); err != nil {
			return nil, fmt.Errorf("broker config %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// get returns a broker config's value and source.
func (s *brokerSettings) get(name string) (string, int8) {
	s.mu.RLock()
	v, ok := s.dynamic[name]
	s.mu.RUnlock()
	if ok {
		return v, sourceDynamicBroker
	}
	if v, ok := s.static[name]; ok {
		return v, sourceStaticBroker
	}
	if d := brokerDefsByName[name]; d != nil {
		return d.def, sourceDefault
	}
	return "", sourceDefault
}

func (s *brokerSettings) long(name string) int64 {
	v, _ := s.get(name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func (s *brokerSettings) bool(name string) bool {
	v, _ := s.get(name)
	b, _ := strconv.ParseBool(v)
	return b
}

// topicValue resolves a topic config: the topic's own value, else the
// broker synonym's, else the default.
func (s *brokerSettings) topicValue(overrides map[string]string, name string) (string, int8) {
	if v, ok := overrides[name]; ok {
		return v, sourceTopic
	}
	d := topicDefsByName[name]
	if d == nil {
		return "", sourceDefault
	}
	return s.get(d.broker)
}

// validateTopicConfigs checks topic-level configs.
func validateTopicConfigs(cfg map[string]string) error {
	for k, v := range cfg {
		d := topicDefsByName[k]
		if d == nil {
			return fmt.Errorf("unknown topic config %q", k)
		}
		if err := d.validate(v); err != nil {
			return fmt.Errorf("config %s: %w", k, err)
		}
	}
	return nil
}

// logConfig maps a topic's effective configs onto the storage settings.
func (s *brokerSettings) logConfig(overrides map[string]string) storage.Config {
	long := func(name string) int64 {
		v, _ := s.topicValue(overrides, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	cfg := storage.Config{
		SegmentBytes:       long("segment.bytes"),
		SegmentMs:          long("segment.ms"),
		RetentionMs:        long("retention.ms"),
		RetentionBytes:     long("retention.bytes"),
		IndexIntervalBytes: int(long("index.interval.bytes")),
		Fsync:              long("flush.messages") <= 1,
	}
	if !s.hasPolicy(overrides, "delete") {
		// compact-only topics keep everything the cleaner keeps.
		cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	}
	return cfg
}

// hasPolicy reports whether a topic's cleanup.policy includes p.
func (s *brokerSettings) hasPolicy(overrides map[string]string, p string) bool {
	v, _ := s.topicValue(overrides, "cleanup.policy")
	for _, x := range strings.Split(v, ",") {
		if strings.TrimSpace(x) == p {
			return true
		}
	}
	return false
}

// compactionConfig maps a compacted topic's configs onto the cleaner's.
func (s *brokerSettings) compactionConfig(overrides map[string]string) storage.CompactionConfig {
	long := func(name string) int64 {
		v, _ := s.topicValue(overrides, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	ratio, _ := s.topicValue(overrides, "min.cleanable.dirty.ratio")
	r, _ := strconv.ParseFloat(ratio, 64)
	return storage.CompactionConfig{
		DeleteRetentionMs:  long("delete.retention.ms"),
		MinCompactionLagMs: long("min.compaction.lag.ms"),
		MinCleanableRatio:  r,
		MaxKeys:            int(s.long("log.cleaner.dedupe.buffer.size") / 40),
	}
}

// topicPolicy is what the produce path needs of a topic's configs.
type topicPolicy struct {
	compacted       bool // records need keys
	maxMessageBytes int
	logAppendTime   bool
	tsBeforeMax     int64
	tsAfterMax      int64
}

func (s *brokerSettings) policy(overrides map[string]string) topicPolicy {
	long := func(name string) int64 {
		v, _ := s.topicValue(overrides, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	tt, _ := s.topicValue(overrides, "message.timestamp.type")
	return topicPolicy{
		compacted:       s.hasPolicy(overrides, "compact"),
		maxMessageBytes: int(long("max.message.bytes")),
		logAppendTime:   tt == "LogAppendTime",
		tsBeforeMax:     long("message.timestamp.before.max.ms"),
		tsAfterMax:      long("message.timestamp.after.max.ms"),
	}
}

// dynamicConfigFile, in the data directory, holds the dynamic broker
// configs set through AlterConfigs / IncrementalAlterConfigs, so that they
// survive restarts as Kafka's do.
const dynamicConfigFile = "broker-configs.json"

type dynamicConfigsFile struct {
	Configs map[string]string `json:"configs"`
}

// validateDynamicBrokerConfigs checks configs set on the broker resource.
// As in Kafka, only the broker defaults of topic configs (log.retention.ms,
// log.segment.bytes, message.max.bytes, ...) can be changed while the
// broker runs; the others are read-only.
func validateDynamicBrokerConfigs(cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := brokerAliases[k]; ok {
			return fmt.Errorf("broker config %s can only be set in the config file; set its canonical form dynamically instead", k)
		}
		d := brokerDefsByName[k]
		if d == nil {
			return fmt.Errorf("unknown broker config %q", k)
		}
		if d.broker != k {
			return fmt.Errorf("cannot update broker config %s dynamically", k)
		}
		if err := d.validate(cfg[k]); err != nil {
			return fmt.Errorf("config %s: %w", k, err)
		}
	}
	return nil
}

// loadDynamicConfigs reads the persisted dynamic broker configs. Entries
// that are no longer valid are dropped with a warning rather than keeping
// the broker from starting.
func (b *Broker) loadDynamicConfigs() error {
	raw, err := b.fs.ReadFile(path.Join(b.cfg.dataDir, dynamicConfigFile))
	if vfs.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var f dynamicConfigsFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("reading %s: %w", path.Join(b.cfg.dataDir, dynamicConfigFile), err)
	}
	m := map[string]string{}
	for k, v := range f.Configs {
		if err := validateDynamicBrokerConfigs(map[string]string{k: v}); err != nil {
			b.logger.Warn("ignoring stored dynamic broker config", "config", k, "err", err)
			continue
		}
		m[k] = v
	}
	b.settings.setDynamic(m)
	return nil
}

// alterDynamicConfigs replaces the dynamic broker configs with what update
// makes of a copy of them, validating the result, persisting it and pushing
// it to every log; with validateOnly it only checks. Alterations are
// serialized under the broker lock, so concurrent ones do not lose updates.
func (b *Broker) alterDynamicConfigs(update func(cur map[string]string) (map[string]string, *topicError), validateOnly bool) *topicError {
	b.mu.Lock()
	next, terr := update(b.settings.dynamicCopy())
	if terr == nil {
		if err := validateDynamicBrokerConfigs(next); err != nil {
			terr = errCode(kerr.InvalidConfig, "%v", err)
		}
	}
	if terr != nil || validateOnly {
		b.mu.Unlock()
		return terr
	}
	raw, err := json.MarshalIndent(dynamicConfigsFile{Configs: next}, "", "  ")
	if err == nil {
		err = vfs.WriteFileAtomic(b.fs, b.cfg.dataDir, dynamicConfigFile, raw)
	}
	if err != nil {
		b.mu.Unlock()
		return errCode(kerr.KafkaStorageError, "writing dynamic broker configs: %v", err)
	}
	b.settings.setDynamic(next)
	b.mu.Unlock()
	b.reapplyLogConfigs()
	b.logger.Info("altered dynamic broker configs", "configs", next)
	return nil
}
