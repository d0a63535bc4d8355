package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streaming/eddy/storage"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Data directory layout:
//
//	<data>/cluster.json                 cluster id
//	<data>/broker-configs.json          dynamic broker configs (see configs.go)
//	<data>/topics/<topic>/topic.json    topic id, partition count, config overrides
//	<data>/topics/<topic>/<partition>/  the partition's segments (see storage)
//	<data>/deleted/<topic>-<id>/        topics being deleted (removed at start)
const (
	topicsDir  = "topics"
	deletedDir = "deleted"
	topicMeta  = "topic.json"
)

type topic struct {
	name     string
	id       [16]byte
	internal bool

	// Guarded by Broker.mu.
	configs map[string]string // overrides set on the topic
	parts   []*partition

	// policy is what produce needs of the effective configs, recomputed
	// whenever the topic's or the broker's configs change.
	policy atomic.Pointer[topicPolicy]

	metrics atomic.Pointer[topicMetrics] // created on first use: see metrics.topic
}

// refreshPolicy recomputes t.policy; the caller holds Broker.mu.
func (b *Broker) refreshPolicy(t *topic) {
	pol := b.settings.policy(t.configs)
	t.policy.Store(&pol)
}

type partition struct {
	topic *topic
	index int32
	log   *storage.Log
}

type topicFile struct {
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// encodeUUID formats an id the way Kafka prints cluster and topic ids:
// unpadded URL-safe base64.
func encodeUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func newTopicID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		rand.Read(id[:])
	}
	return id
}

// validTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], and not "." or "..".
func validTopicName(name string) error {
	if name == "" {
		return errors.New("topic name is empty")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters; the limit is 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has %q; only [a-zA-Z0-9._-] are allowed", name, r)
		}
	}
	return nil
}

func (b *Broker) topicDir(name string) string {
	return path.Join(b.cfg.dataDir, topicsDir, name)
}

// loadTopics opens every topic in the data directory. Directories without
// a topic.json are creations that did not finish and are removed, as are
// leftovers of deletions.
func (b *Broker) loadTopics() error {
	// The logs' settings depend on the dynamic broker configs.
	if err := b.loadDynamicConfigs(); err != nil {
		return err
	}
	b.fs.RemoveAll(path.Join(b.cfg.dataDir, deletedDir))
	names, err := b.fs.List(path.Join(b.cfg.dataDir, topicsDir))
	if err != nil {
		return err
	}
	for _, name := range names {
		dir := b.topicDir(name)
		raw, err := b.fs.ReadFile(path.Join(dir, topicMeta))
		if vfs.IsNotExist(err) {
			b.logger.Warn("removing a topic directory whose creation did not finish", "dir", dir)
			b.fs.RemoveAll(dir)
			continue
		}
		if err != nil {
			return err
		}
		var tf topicFile
		if err := json.Unmarshal(raw, &tf); err != nil {
			return fmt.Errorf("reading %s: %w", path.Join(dir, topicMeta), err)
		}
		idb, err := hex.DecodeString(tf.ID)
		if err != nil || len(idb) != 16 {
			return fmt.Errorf("%s: bad topic id %q", path.Join(dir, topicMeta), tf.ID)
		}
		t := &topic{name: name, configs: tf.Configs, internal: isInternalTopic(name)}
		copy(t.id[:], idb)
		if t.configs == nil {
			t.configs = map[string]string{}
		}
		b.refreshPolicy(t)
		for i := int32(0); i < tf.Partitions; i++ {
			p, err := b.openPartition(t, i)
			if err != nil {
				return err
			}
			t.parts = append(t.parts, p)
		}
		b.mu.topics[name] = t
		b.mu.byID[t.id] = t
	}
	return nil
}

func (b *Broker) openPartition(t *topic, i int32) (*partition, error) {
	dir := path.Join(b.topicDir(t.name), strconv.Itoa(int(i)))
	l, err := storage.Open(storage.Options{
		FS:     b.fs,
		Dir:    dir,
		Config: b.settings.logConfig(t.configs),
		Logger: b.cfg.logger.With("component", "log", "topic", t.name, "partition", i),
		Now:    b.cfg.now,
		OnSync: b.metrics.synced,
	})
	if err != nil {
		return nil, fmt.Errorf("opening %s/%d: %w", t.name, i, err)
	}
	return &partition{topic: t, index: i, log: l}, nil
}

func (b *Broker) writeTopicFile(t *topic, partitions int32) error {
	raw, err := json.MarshalIndent(topicFile{ID: hex.EncodeToString(t.id[:]), Partitions: partitions, Configs: t.configs}, "", "  ")
	if err != nil {
		return err
	}
	return vfs.WriteFileAtomic(b.fs, b.topicDir(t.name), topicMeta, raw)
}

// topicError is an error with the Kafka code to answer it with.
type topicError struct {
	code *kerr.Error
	msg  string
}

func (e *topicError) Error() string { return e.code.Message + ": " + e.msg }

func errCode(code *kerr.Error, format string, args ...any) *topicError {
	return &topicError{code: code, msg: fmt.Sprintf(format, args...)}
}

// createTopic creates a topic durably: directories, then topic.json (the
// commit point), then the partition logs. With validateOnly it only checks.
func (b *Broker) createTopic(name string, partitions int32, configs map[string]string, validateOnly bool) (*topic, *topicError) {
	if err := validTopicName(name); err != nil {
		return nil, errCode(kerr.InvalidTopicException, "%v", err)
	}
	if partitions == -1 {
		partitions = int32(b.settings.long("num.partitions"))
	}
	if partitions <= 0 || partitions > 100000 {
		return nil, errCode(kerr.InvalidPartitions, "%d partitions; must be 1 to 100000", partitions)
	}
	if err := validateTopicConfigs(configs); err != nil {
		return nil, errCode(kerr.InvalidConfig, "%v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.mu.topics[name]; ok {
		return nil, errCode(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if collides := b.collidingTopicLocked(name); collides != "" {
		return nil, errCode(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", name, collides)
	}
	if validateOnly {
		return &topic{name: name}, nil
	}
	t := &topic{name: name, id: newTopicID(), configs: map[string]string{}, internal: isInternalTopic(name)}
	for k, v := range configs {
		t.configs[k] = v
	}
	b.refreshPolicy(t)
	dir := b.topicDir(name)
	if err := b.fs.MkdirAll(dir); err != nil {
		return nil, errCode(kerr.KafkaStorageError, "creating %s: %v", dir, err)
	}
	if err := b.fs.SyncDir(path.Dir(dir)); err != nil {
		return nil, errCode(kerr.KafkaStorageError, "syncing %s: %v", path.Dir(dir), err)
	}
	if err := b.writeTopicFile(t, partitions); err != nil {
		b.fs.RemoveAll(dir)
		return nil, errCode(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	for i := int32(0); i < partitions; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			for _, p := range t.parts {
				p.log.Close()
			}
			b.fs.RemoveAll(dir)
			return nil, errCode(kerr.KafkaStorageError, "%v", err)
		}
		t.parts = append(t.parts, p)
	}
	b.mu.topics[name] = t
	b.mu.byID[t.id] = t
	b.logger.Info("created topic", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// collidingTopicLocked returns an existing topic whose name differs from
// name only by '.' versus '_' (Kafka refuses these).
func (b *Broker) collidingTopicLocked(name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	norm := strings.ReplaceAll(name, ".", "_")
	for other := range b.mu.topics {
		if strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}

// deleteTopic removes a topic: it disappears from metadata at once, its
// directory is renamed out of topics/ (the commit point) and then removed.
func (b *Broker) deleteTopic(t *topic) *topicError {
	if t.internal {
		return errCode(kerr.InvalidTopicException, "%s is one of the broker's internal topics and cannot be deleted", t.name)
	}
	b.mu.Lock()
	if b.mu.topics[t.name] != t {
		b.mu.Unlock()
		return errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", t.name)
	}
	delete(b.mu.topics, t.name)
	delete(b.mu.byID, t.id)
	parts := t.parts
	b.mu.Unlock()
	b.metrics.forgetTopic(t.name)

	for _, p := range parts {
		p.log.Close()
	}
	gone := path.Join(b.cfg.dataDir, deletedDir)
	if err := b.fs.MkdirAll(gone); err != nil {
		return errCode(kerr.KafkaStorageError, "%v", err)
	}
	target := path.Join(gone, t.name+"-"+hex.EncodeToString(t.id[:]))
	if err := b.fs.Rename(b.topicDir(t.name), target); err != nil {
		return errCode(kerr.KafkaStorageError, "%v", err)
	}
	if err := b.fs.SyncDir(path.Join(b.cfg.dataDir, topicsDir)); err != nil {
		return errCode(kerr.KafkaStorageError, "%v", err)
	}
	if err := b.fs.RemoveAll(target); err != nil {
		b.logger.Warn("removing deleted topic data", "dir", target, "err", err)
	}
	b.logger.Info("deleted topic", "topic", t.name)
	return nil
}

// addPartitions grows a topic to count partitions.
func (b *Broker) addPartitions(t *topic, count int32, validateOnly bool) *topicError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.topics[t.name] != t {
		return errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", t.name)
	}
	cur := int32(len(t.parts))
	if count <= cur {
		return errCode(kerr.InvalidPartitions, "topic has %d partitions; the new count %d must be larger", cur, count)
	}
	if count > 100000 {
		return errCode(kerr.InvalidPartitions, "%d partitions is more than 100000", count)
	}
	if validateOnly {
		return nil
	}
	var added []*partition
	for i := cur; i < count; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			for _, p := range added {
				p.log.Remove()
			}
			return errCode(kerr.KafkaStorageError, "%v", err)
		}
		added = append(added, p)
	}
	// The partition directories exist before topic.json names them, so a
	// crash in between leaves only unused directories, which a later
	// CreatePartitions reuses.
	if err := b.writeTopicFile(t, count); err != nil {
		for _, p := range added {
			p.log.Remove()
		}
		return errCode(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	t.parts = append(t.parts, added...)
	b.logger.Info("added partitions", "topic", t.name, "from", cur, "to", count)
	return nil
}

// alterTopicConfigs replaces a topic's overrides with what update makes of
// a copy of them, validating the result, persisting it and applying it to
// the topic's logs; with validateOnly it only checks. The whole change
// happens under the broker lock, so concurrent alterations do not lose each
// other's updates and a topic being deleted is not written back.
func (b *Broker) alterTopicConfigs(t *topic, update func(cur map[string]string) (map[string]string, *topicError), validateOnly bool) *topicError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.topics[t.name] != t {
		return errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", t.name)
	}
	cur := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		cur[k] = v
	}
	next, terr := update(cur)
	if terr != nil {
		return terr
	}
	if err := validateTopicConfigs(next); err != nil {
		return errCode(kerr.InvalidConfig, "%v", err)
	}
	if validateOnly {
		return nil
	}
	old := t.configs
	t.configs = next
	if err := b.writeTopicFile(t, int32(len(t.parts))); err != nil {
		t.configs = old
		return errCode(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	b.refreshPolicy(t)
	lc := b.settings.logConfig(next)
	for _, p := range t.parts {
		p.log.SetConfig(lc)
	}
	b.logger.Info("altered topic configs", "topic", t.name, "configs", next)
	return nil
}

// reapplyLogConfigs pushes changed broker defaults to every log.
func (b *Broker) reapplyLogConfigs() {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, t := range b.mu.topics {
		b.refreshPolicy(t)
		lc := b.settings.logConfig(t.configs)
		for _, p := range t.parts {
			p.log.SetConfig(lc)
		}
	}
}

func (b *Broker) topic(name string) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.mu.topics[name]
}

func (b *Broker) topicByID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.mu.byID[id]
}

// partition returns a partition of a topic, or nil.
func (b *Broker) partition(t *topic, i int32) *partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if i < 0 || int(i) >= len(t.parts) {
		return nil
	}
	return t.parts[i]
}

// sortedTopics returns all topics by name.
func (b *Broker) sortedTopics() []*topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ts := make([]*topic, 0, len(b.mu.topics))
	for _, t := range b.mu.topics {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	return ts
}

func (b *Broker) numPartitions(t *topic) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(t.parts)
}

func (b *Broker) allPartitions() []*partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var ps []*partition
	for _, t := range b.mu.topics {
		ps = append(ps, t.parts...)
	}
	return ps
}

// topicConfigs returns a copy of a topic's overrides.
func (b *Broker) topicConfigs(t *topic) map[string]string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	m := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		m[k] = v
	}
	return m
}
