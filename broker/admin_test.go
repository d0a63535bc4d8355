package broker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// testCtx bounds a test's requests; it is a safety net against hangs, not
// a timing assertion.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newAdmin(t *testing.T, b *broker.Broker, opts ...kgo.Opt) *kadm.Client {
	return kadm.NewClient(newClient(t, b, opts...))
}

// maxVersion limits a client to version v of one API key.
func maxVersion(key kmsg.Key, v int16) kgo.Opt {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key.Int16(), v)
	return kgo.MaxVersions(vs)
}

// send issues a request to the broker directly, without the client's
// sharding or retries, and returns the response.
func send[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.SeedBrokers()[0].Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

func wantErr(t *testing.T, what string, got error, want *kerr.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %s", what, got, want.Message)
	}
}

func wantCode(t *testing.T, what string, code int16, want *kerr.Error) {
	t.Helper()
	wantErr(t, what, kerr.ErrorForCode(code), want)
}

func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) kadm.TopicID {
	t.Helper()
	r, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, name)
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	return r.ID
}

// metadata asks the broker itself for a topic's metadata: kgo caches
// metadata for a while, which would hide the changes under test.
func metadata(t *testing.T, b *broker.Broker, name string) (kmsg.MetadataResponseTopic, bool) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp := send[*kmsg.MetadataResponse](t, newClient(t, b), req)
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata for %s: %d topics", name, len(resp.Topics))
	}
	mt := resp.Topics[0]
	if mt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
		return mt, false
	}
	wantCode(t, "metadata for "+name, mt.ErrorCode, nil)
	return mt, true
}

func topicID(t *testing.T, b *broker.Broker, name string) (kadm.TopicID, int) {
	t.Helper()
	mt, ok := metadata(t, b, name)
	if !ok {
		t.Fatalf("topic %s does not exist", name)
	}
	return mt.TopicID, len(mt.Partitions)
}

func topicExists(t *testing.T, b *broker.Broker, name string) bool {
	t.Helper()
	_, ok := metadata(t, b, name)
	return ok
}

// produce writes values to one partition, one batch each, and returns the
// offset of the first.
func produce(t *testing.T, b *broker.Broker, topic string, partition int32, values ...string) int64 {
	t.Helper()
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	first := int64(-1)
	for _, v := range values {
		r, err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).First()
		if err != nil {
			t.Fatalf("producing to %s/%d: %v", topic, partition, err)
		}
		if first < 0 {
			first = r.Offset
		}
	}
	return first
}

// consume reads n records of one partition from its start.
func consume(t *testing.T, b *broker.Broker, topic string, partition int32, n int) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t)
	cl := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().AtStart()},
	}))
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s/%d", len(recs), n, topic, partition)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != n {
		t.Fatalf("consumed %d records of %s/%d, want %d", len(recs), topic, partition, n)
	}
	return recs
}

func offsets(t *testing.T, adm *kadm.Client, topic string, partition int32) (start, end int64) {
	t.Helper()
	ctx := testCtx(t)
	s, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	e, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	so, ok1 := s.Lookup(topic, partition)
	eo, ok2 := e.Lookup(topic, partition)
	if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
		t.Fatalf("listing offsets of %s/%d: %v %v", topic, partition, so.Err, eo.Err)
	}
	return so.Offset, eo.Offset
}

type cfgVal struct {
	value  string
	source kmsg.ConfigSource
}

func findConfig(t *testing.T, rcs kadm.ResourceConfigs, err error, key string) cfgVal {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describing configs: %+v", rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == key {
			return cfgVal{c.MaybeValue(), c.Source}
		}
	}
	t.Fatalf("config %s not described", key)
	return cfgVal{}
}

func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) cfgVal {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t), topic)
	return findConfig(t, rcs, err, key)
}

func brokerConfig(t *testing.T, adm *kadm.Client, key string) cfgVal {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(testCtx(t))
	return findConfig(t, rcs, err, key)
}

func wantConfig(t *testing.T, what string, got cfgVal, value string, source kmsg.ConfigSource) {
	t.Helper()
	if got.value != value || got.source != source {
		t.Fatalf("%s = %q (%s), want %q (%s)", what, got.value, got.source, value, source)
	}
}

func alterErr(t *testing.T, rs kadm.AlterConfigsResponses, err error) error {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d alter config responses, want 1", len(rs))
	}
	return rs[0].Err
}

func set(name, value string) kadm.AlterConfig {
	return kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: kmsg.StringPtr(value)}
}

func op(o kadm.IncrementalOp, name, value string) kadm.AlterConfig {
	return kadm.AlterConfig{Op: o, Name: name, Value: kmsg.StringPtr(value)}
}

func segmentFiles(t *testing.T, dir, topic string, partition int32) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "topics", topic, strconv.Itoa(int(partition)), "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// ---------------------------------------------------------------------------
// DeleteTopics

func TestDeleteTopicThenRecreate(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	ctx := testCtx(t)

	oldID := createTopic(t, adm, "dt", 2, nil)
	produce(t, b, "dt", 0, "a", "b", "c")
	produce(t, b, "dt", 1, "d")

	r, err := adm.DeleteTopic(ctx, "dt")
	wantErr(t, "delete", err, nil)
	if r.ID != oldID {
		t.Fatalf("delete answered id %v, want %v", r.ID, oldID)
	}
	if topicExists(t, b, "dt") {
		t.Fatal("deleted topic still listed")
	}
	rs, err := adm.DescribeTopicConfigs(ctx, "dt")
	if err == nil && (len(rs) != 1 || !errors.Is(rs[0].Err, kerr.UnknownTopicOrPartition)) {
		t.Fatalf("configs of deleted topic: %+v", rs)
	}
	_, err = adm.DeleteTopic(ctx, "dt")
	wantErr(t, "deleting again", err, kerr.UnknownTopicOrPartition)

	newID := createTopic(t, adm, "dt", 1, nil)
	if newID == oldID {
		t.Fatal("recreated topic kept the old id")
	}
	if start, end := offsets(t, adm, "dt", 0); start != 0 || end != 0 {
		t.Fatalf("recreated topic has offsets [%d, %d), want empty", start, end)
	}
	if off := produce(t, b, "dt", 0, "fresh"); off != 0 {
		t.Fatalf("first record of recreated topic at offset %d", off)
	}
	if recs := consume(t, b, "dt", 0, 1); string(recs[0].Value) != "fresh" {
		t.Fatalf("recreated topic holds %q", recs[0].Value)
	}
}

func TestDeleteTopicsByID(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	cl := newClient(t, b)
	idA := createTopic(t, adm, "by-id-a", 1, nil)
	createTopic(t, adm, "by-id-b", 1, nil)
	createTopic(t, adm, "by-id-c", 1, nil)

	var unknown [16]byte
	unknown[0] = 1
	entry := func(name string, id [16]byte) kmsg.DeleteTopicsRequestTopic {
		e := kmsg.NewDeleteTopicsRequestTopic()
		if name != "" {
			e.Topic = kmsg.StringPtr(name)
		}
		e.TopicID = id
		return e
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Topics = []kmsg.DeleteTopicsRequestTopic{
		entry("", idA),
		entry("", unknown),
		entry("by-id-b", idA), // both a name and an id
		entry("", [16]byte{}), // neither
		entry("by-id-c", [16]byte{}),
		entry("by-id-c", [16]byte{}), // duplicate name
	}
	resp := send[*kmsg.DeleteTopicsResponse](t, cl, req)
	if resp.Version != 6 {
		t.Fatalf("answered v%d, want v6", resp.Version)
	}
	if len(resp.Topics) != 5 {
		t.Fatalf("%d answers, want 5 (a duplicate answered once): %+v", len(resp.Topics), resp.Topics)
	}
	got := resp.Topics
	if got[0].ErrorCode != 0 || got[0].TopicID != idA || got[0].Topic == nil || *got[0].Topic != "by-id-a" {
		t.Fatalf("delete by id: %+v", got[0])
	}
	wantCode(t, "unknown id", got[1].ErrorCode, kerr.UnknownTopicID)
	wantCode(t, "name and id", got[2].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "neither", got[3].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate name", got[4].ErrorCode, kerr.InvalidRequest)
	if got[4].ErrorMessage == nil {
		t.Fatal("v6 error without a message")
	}
	if topicExists(t, b, "by-id-a") {
		t.Fatal("topic deleted by id still listed")
	}
	if !topicExists(t, b, "by-id-b") || !topicExists(t, b, "by-id-c") {
		t.Fatal("a topic named in an invalid entry was deleted")
	}

	// The name and the id of one topic in one request.
	idB, _ := topicID(t, b, "by-id-b")
	req = kmsg.NewPtrDeleteTopicsRequest()
	req.Topics = []kmsg.DeleteTopicsRequestTopic{entry("by-id-b", [16]byte{}), entry("", idB)}
	resp = send[*kmsg.DeleteTopicsResponse](t, cl, req)
	for _, st := range resp.Topics {
		wantCode(t, "name and id of one topic", st.ErrorCode, kerr.InvalidRequest)
	}
	if !topicExists(t, b, "by-id-b") {
		t.Fatal("topic named twice was deleted")
	}
}

func TestDeleteTopicsOldVersions(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	for _, v := range []int16{1, 3, 5} {
		cl := newClient(t, b, maxVersion(kmsg.DeleteTopics, v))
		name := fmt.Sprintf("old-v%d", v)
		createTopic(t, adm, name, 1, nil)
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{name, "never-was"}
		resp := send[*kmsg.DeleteTopicsResponse](t, cl, req)
		if resp.Version != v || len(resp.Topics) != 2 {
			t.Fatalf("v%d: answered v%d with %d topics", v, resp.Version, len(resp.Topics))
		}
		wantCode(t, name, resp.Topics[0].ErrorCode, nil)
		wantCode(t, "unknown", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
		if topicExists(t, b, name) {
			t.Fatalf("v%d: topic not deleted", v)
		}
	}
}

func TestDeleteTopicsDisabled(t *testing.T) {
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"delete.topic.enable": "false"}))
	adm := newAdmin(t, b)
	createTopic(t, adm, "keep", 1, nil)
	_, err := adm.DeleteTopic(testCtx(t), "keep")
	wantErr(t, "delete", err, kerr.TopicDeletionDisabled)

	// v2 predates TOPIC_DELETION_DISABLED: Kafka answers INVALID_REQUEST.
	cl := newClient(t, b, maxVersion(kmsg.DeleteTopics, 2))
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{"keep"}
	resp := send[*kmsg.DeleteTopicsResponse](t, cl, req)
	wantCode(t, "delete v2", resp.Topics[0].ErrorCode, kerr.InvalidRequest)
	if !topicExists(t, b, "keep") {
		t.Fatal("topic deleted although deletion is disabled")
	}
}

// ---------------------------------------------------------------------------
// CreatePartitions

func TestCreatePartitions(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "grow", 1, nil)
	produce(t, b, "grow", 0, "p0")

	rs, err := adm.ValidateCreatePartitions(ctx, 2, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("validate: %v %v", err, rs["grow"].Err)
	}
	if _, n := topicID(t, b, "grow"); n != 1 {
		t.Fatalf("validate-only grew the topic to %d partitions", n)
	}

	rs, err = adm.CreatePartitions(ctx, 2, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, rs["grow"].Err)
	}
	if _, n := topicID(t, b, "grow"); n != 3 {
		t.Fatalf("topic has %d partitions, want 3", n)
	}
	for p := int32(1); p < 3; p++ {
		if off := produce(t, b, "grow", p, fmt.Sprintf("p%d", p)); off != 0 {
			t.Fatalf("first record of new partition %d at offset %d", p, off)
		}
		if recs := consume(t, b, "grow", p, 1); string(recs[0].Value) != fmt.Sprintf("p%d", p) {
			t.Fatalf("partition %d holds %q", p, recs[0].Value)
		}
	}
	if recs := consume(t, b, "grow", 0, 1); string(recs[0].Value) != "p0" {
		t.Fatalf("partition 0 holds %q", recs[0].Value)
	}

	for _, n := range []int{3, 2} {
		rs, err = adm.UpdatePartitions(ctx, n, "grow")
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, fmt.Sprintf("update to %d", n), rs["grow"].Err, kerr.InvalidPartitions)
	}
	rs, err = adm.CreatePartitions(ctx, 1, "nope")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "unknown topic", rs["nope"].Err, kerr.UnknownTopicOrPartition)
}

func TestCreatePartitionsRequestChecks(t *testing.T) {
	b := testbroker.Start(t, broker.WithNodeID(3))
	adm := newAdmin(t, b)
	cl := newClient(t, b)
	createTopic(t, adm, "cp-a", 1, nil)
	createTopic(t, adm, "cp-b", 1, nil)

	topicReq := func(name string, count int32, assign ...[]int32) kmsg.CreatePartitionsRequestTopic {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, count
		for _, a := range assign {
			ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
			ra.Replicas = a
			rt.Assignment = append(rt.Assignment, ra)
		}
		return rt
	}

	// A duplicate is answered once with INVALID_REQUEST; the others proceed.
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Topics = []kmsg.CreatePartitionsRequestTopic{topicReq("cp-a", 2), topicReq("cp-b", 2), topicReq("cp-a", 3)}
	resp := send[*kmsg.CreatePartitionsResponse](t, cl, req)
	if len(resp.Topics) != 2 {
		t.Fatalf("%d answers, want 2: %+v", len(resp.Topics), resp.Topics)
	}
	for _, st := range resp.Topics {
		switch st.Topic {
		case "cp-a":
			wantCode(t, "duplicate", st.ErrorCode, kerr.InvalidRequest)
		case "cp-b":
			wantCode(t, "cp-b", st.ErrorCode, nil)
		}
	}
	if _, n := topicID(t, b, "cp-a"); n != 1 {
		t.Fatalf("duplicated topic grew to %d partitions", n)
	}
	if _, n := topicID(t, b, "cp-b"); n != 2 {
		t.Fatalf("cp-b has %d partitions, want 2", n)
	}

	for _, tc := range []struct {
		what string
		rt   kmsg.CreatePartitionsRequestTopic
		want *kerr.Error
	}{
		{"other broker", topicReq("cp-a", 2, []int32{0}), kerr.InvalidReplicaAssignment},
		{"too few assignments", topicReq("cp-a", 3, []int32{3}), kerr.InvalidReplicaAssignment},
		{"too many assignments", topicReq("cp-a", 2, []int32{3}, []int32{3}), kerr.InvalidReplicaAssignment},
		{"two replicas", topicReq("cp-a", 2, []int32{3, 3}), kerr.InvalidReplicaAssignment},
		{"empty replicas", topicReq("cp-a", 2, []int32{}), kerr.InvalidReplicaAssignment},
		{"no growth", topicReq("cp-a", 1), kerr.InvalidPartitions},
		{"negative", topicReq("cp-a", -1), kerr.InvalidPartitions},
		{"this broker", topicReq("cp-a", 3, []int32{3}, []int32{3}), nil},
	} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Topics = []kmsg.CreatePartitionsRequestTopic{tc.rt}
		resp := send[*kmsg.CreatePartitionsResponse](t, cl, req)
		wantCode(t, tc.what, resp.Topics[0].ErrorCode, tc.want)
		if tc.want != nil && resp.Topics[0].ErrorMessage == nil {
			t.Fatalf("%s: no error message", tc.what)
		}
	}
	if _, n := topicID(t, b, "cp-a"); n != 3 {
		t.Fatalf("cp-a has %d partitions, want 3", n)
	}
}

// ---------------------------------------------------------------------------
// AlterConfigs and IncrementalAlterConfigs

func TestAlterConfigsReplacesOverrides(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "ac", 1, map[string]*string{
		"retention.ms":      kmsg.StringPtr("3600000"),
		"segment.bytes":     kmsg.StringPtr("100000"),
		"cleanup.policy":    kmsg.StringPtr("compact"),
		"flush.messages":    kmsg.StringPtr("1"),
		"max.message.bytes": kmsg.StringPtr("5000"),
	})

	rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("retention.ms", "7200000"), set("max.message.bytes", "6000")}, "ac")
	wantErr(t, "alter", alterErr(t, rs, err), nil)
	wantConfig(t, "retention.ms", topicConfig(t, adm, "ac", "retention.ms"), "7200000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "max.message.bytes", topicConfig(t, adm, "ac", "max.message.bytes"), "6000", kmsg.ConfigSourceDynamicTopicConfig)
	// Not listed: back to the default.
	wantConfig(t, "segment.bytes", topicConfig(t, adm, "ac", "segment.bytes"), "1073741824", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "cleanup.policy", topicConfig(t, adm, "ac", "cleanup.policy"), "delete", kmsg.ConfigSourceDefaultConfig)

	// Failures and validate-only change nothing.
	for _, tc := range []struct {
		what    string
		configs []kadm.AlterConfig
		want    *kerr.Error
	}{
		{"invalid value", []kadm.AlterConfig{set("retention.ms", "soon")}, kerr.InvalidConfig},
		{"out of range", []kadm.AlterConfig{set("segment.bytes", "1")}, kerr.InvalidConfig},
		{"unknown name", []kadm.AlterConfig{set("retention.ms", "1"), set("no.such.config", "1")}, kerr.InvalidConfig},
		{"broker name on a topic", []kadm.AlterConfig{set("log.retention.ms", "1")}, kerr.InvalidConfig},
	} {
		rs, err := adm.AlterTopicConfigsState(ctx, tc.configs, "ac")
		wantErr(t, tc.what, alterErr(t, rs, err), tc.want)
	}
	rs, err = adm.ValidateAlterTopicConfigsState(ctx, []kadm.AlterConfig{set("retention.ms", "1")}, "ac")
	wantErr(t, "validate-only", alterErr(t, rs, err), nil)
	wantConfig(t, "retention.ms after failures", topicConfig(t, adm, "ac", "retention.ms"), "7200000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "max.message.bytes after failures", topicConfig(t, adm, "ac", "max.message.bytes"), "6000", kmsg.ConfigSourceDynamicTopicConfig)

	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("retention.ms", "1")}, "missing")
	wantErr(t, "unknown topic", alterErr(t, rs, err), kerr.UnknownTopicOrPartition)

	// An empty set removes every override.
	rs, err = adm.AlterTopicConfigsState(ctx, nil, "ac")
	wantErr(t, "clear", alterErr(t, rs, err), nil)
	wantConfig(t, "retention.ms cleared", topicConfig(t, adm, "ac", "retention.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)

	// The topic's policy follows: max.message.bytes is enforced on produce.
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("max.message.bytes", "200")}, "ac")
	wantErr(t, "small max.message.bytes", alterErr(t, rs, err), nil)
	cl := newClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()))
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "ac", Value: make([]byte, 1000)}).FirstErr()
	wantErr(t, "producing a large record", err, kerr.MessageTooLarge)
}

func TestAlterConfigsBroker(t *testing.T) {
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"log.roll.ms": "3600000"}))
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "acb", 1, map[string]*string{"retention.ms": kmsg.StringPtr("1000")})

	wantConfig(t, "static", brokerConfig(t, adm, "log.roll.ms"), "3600000", kmsg.ConfigSourceStaticBrokerConfig)
	rs, err := adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{set("log.retention.ms", "123456"), set("log.segment.bytes", "65536")})
	wantErr(t, "alter broker", alterErr(t, rs, err), nil)
	wantConfig(t, "broker log.retention.ms", brokerConfig(t, adm, "log.retention.ms"), "123456", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic segment.bytes", topicConfig(t, adm, "acb", "segment.bytes"), "65536", kmsg.ConfigSourceDynamicBrokerConfig)
	// The topic's own override still wins.
	wantConfig(t, "topic retention.ms", topicConfig(t, adm, "acb", "retention.ms"), "1000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "static untouched", brokerConfig(t, adm, "log.roll.ms"), "3600000", kmsg.ConfigSourceStaticBrokerConfig)

	// By node id, replacing the whole dynamic set.
	rs, err = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{set("log.retention.ms", "654321")}, 0)
	wantErr(t, "alter broker 0", alterErr(t, rs, err), nil)
	wantConfig(t, "broker log.retention.ms by id", brokerConfig(t, adm, "log.retention.ms"), "654321", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic segment.bytes reset", topicConfig(t, adm, "acb", "segment.bytes"), "1073741824", kmsg.ConfigSourceDefaultConfig)

	for _, tc := range []struct {
		what    string
		configs []kadm.AlterConfig
		brokers []int32
		want    *kerr.Error
	}{
		{"invalid value", []kadm.AlterConfig{set("log.retention.ms", "x")}, nil, kerr.InvalidConfig},
		{"unknown name", []kadm.AlterConfig{set("no.such.config", "1")}, nil, kerr.InvalidConfig},
		{"read-only", []kadm.AlterConfig{set("num.partitions", "3")}, nil, kerr.InvalidConfig},
		{"topic name on the broker", []kadm.AlterConfig{set("retention.ms", "1")}, nil, kerr.InvalidConfig},
		{"null value", []kadm.AlterConfig{{Name: "log.retention.ms"}}, nil, kerr.InvalidRequest},
	} {
		rs, err := adm.AlterBrokerConfigsState(ctx, tc.configs, tc.brokers...)
		wantErr(t, tc.what, alterErr(t, rs, err), tc.want)
	}
	// kadm routes a broker resource to the broker it names, so another
	// node's id goes out by hand.
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "7"
	rc := kmsg.NewAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value = "log.retention.ms", kmsg.StringPtr("1")
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp := send[*kmsg.AlterConfigsResponse](t, newClient(t, b), req)
	wantCode(t, "other broker", resp.Resources[0].ErrorCode, kerr.InvalidRequest)

	rs, err = adm.ValidateAlterBrokerConfigsState(ctx, []kadm.AlterConfig{set("log.retention.ms", "1")})
	wantErr(t, "validate-only", alterErr(t, rs, err), nil)
	wantConfig(t, "after failures", brokerConfig(t, adm, "log.retention.ms"), "654321", kmsg.ConfigSourceDynamicBrokerConfig)

	rs, err = adm.AlterBrokerConfigsState(ctx, nil)
	wantErr(t, "clear", alterErr(t, rs, err), nil)
	wantConfig(t, "cleared", brokerConfig(t, adm, "log.retention.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)
}

func TestAlterConfigsRequestChecks(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	cl := newClient(t, b)
	createTopic(t, adm, "arc", 1, nil)

	res := func(typ kmsg.ConfigResourceType, name string) kmsg.AlterConfigsRequestResource {
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("1000")
		r.Configs = append(r.Configs, c)
		return r
	}
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Resources = []kmsg.AlterConfigsRequestResource{
		res(kmsg.ConfigResourceTypeTopic, "arc"),
		res(kmsg.ConfigResourceTypeTopic, ""),
		res(kmsg.ConfigResourceTypeTopic, "bad/name"),
		res(kmsg.ConfigResourceTypeBroker, "zero"),
		res(kmsg.ConfigResourceTypeBrokerLogger, "0"),
		res(kmsg.ConfigResourceTypeTopic, "arc"),
	}
	resp := send[*kmsg.AlterConfigsResponse](t, cl, req)
	if len(resp.Resources) != 5 {
		t.Fatalf("%d answers, want 5: %+v", len(resp.Resources), resp.Resources)
	}
	for i, want := range []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidTopicException, kerr.InvalidRequest, kerr.InvalidRequest} {
		wantCode(t, fmt.Sprintf("resource %d (%s)", i, resp.Resources[i].ResourceName), resp.Resources[i].ErrorCode, want)
	}
	wantConfig(t, "duplicated resource", topicConfig(t, adm, "arc", "retention.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)
}

func TestIncrementalAlterConfigsTopic(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "iac", 1, map[string]*string{"retention.ms": kmsg.StringPtr("1000"), "segment.ms": kmsg.StringPtr("5000")})

	alter := func(configs ...kadm.AlterConfig) error {
		rs, err := adm.AlterTopicConfigs(ctx, configs, "iac")
		return alterErr(t, rs, err)
	}
	wantErr(t, "set", alter(set("retention.bytes", "1000000"), kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}), nil)
	wantConfig(t, "set", topicConfig(t, adm, "iac", "retention.bytes"), "1000000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "deleted", topicConfig(t, adm, "iac", "retention.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "untouched", topicConfig(t, adm, "iac", "segment.ms"), "5000", kmsg.ConfigSourceDynamicTopicConfig)

	// APPEND starts from the default when the config is not set.
	wantErr(t, "append", alter(op(kadm.AppendConfig, "cleanup.policy", "compact")), nil)
	wantConfig(t, "appended", topicConfig(t, adm, "iac", "cleanup.policy"), "delete,compact", kmsg.ConfigSourceDynamicTopicConfig)
	wantErr(t, "append again", alter(op(kadm.AppendConfig, "cleanup.policy", "compact")), nil)
	wantConfig(t, "appended twice", topicConfig(t, adm, "iac", "cleanup.policy"), "delete,compact", kmsg.ConfigSourceDynamicTopicConfig)
	wantErr(t, "subtract", alter(op(kadm.SubtractConfig, "cleanup.policy", "delete")), nil)
	wantConfig(t, "subtracted", topicConfig(t, adm, "iac", "cleanup.policy"), "compact", kmsg.ConfigSourceDynamicTopicConfig)

	// Every failure leaves the whole resource untouched, even the valid
	// operations next to the failing one.
	for _, tc := range []struct {
		what    string
		configs []kadm.AlterConfig
		want    *kerr.Error
	}{
		{"append to a non-list", []kadm.AlterConfig{set("segment.ms", "1"), op(kadm.AppendConfig, "retention.ms", "5")}, kerr.InvalidConfig},
		{"subtract from a non-list", []kadm.AlterConfig{op(kadm.SubtractConfig, "segment.ms", "5")}, kerr.InvalidConfig},
		{"invalid value", []kadm.AlterConfig{set("segment.ms", "1"), set("retention.ms", "later")}, kerr.InvalidConfig},
		{"invalid list element", []kadm.AlterConfig{op(kadm.AppendConfig, "cleanup.policy", "archive")}, kerr.InvalidConfig},
		{"empty list", []kadm.AlterConfig{op(kadm.SubtractConfig, "cleanup.policy", "compact")}, kerr.InvalidConfig},
		{"unknown name", []kadm.AlterConfig{set("segment.ms", "1"), set("no.such.config", "1")}, kerr.InvalidConfig},
		{"config twice", []kadm.AlterConfig{set("segment.ms", "1"), set("segment.ms", "2")}, kerr.InvalidRequest},
	} {
		wantErr(t, tc.what, alter(tc.configs...), tc.want)
	}
	rs, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.ms", "1"), kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "cleanup.policy"}}, "iac")
	wantErr(t, "validate-only", alterErr(t, rs, err), nil)
	wantConfig(t, "segment.ms after failures", topicConfig(t, adm, "iac", "segment.ms"), "5000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "cleanup.policy after failures", topicConfig(t, adm, "iac", "cleanup.policy"), "compact", kmsg.ConfigSourceDynamicTopicConfig)

	// Deleting a config that is not set, even an unknown one, is a no-op.
	wantErr(t, "delete unset", alter(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "no.such.config"}), nil)

	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.ms", "1")}, "missing")
	wantErr(t, "unknown topic", alterErr(t, rs, err), kerr.UnknownTopicOrPartition)

	// An unknown operation.
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "iac"
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Op, rc.Value = "segment.ms", 9, kmsg.StringPtr("1")
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp := send[*kmsg.IncrementalAlterConfigsResponse](t, newClient(t, b), req)
	wantCode(t, "unknown op", resp.Resources[0].ErrorCode, kerr.InvalidRequest)
}

func TestIncrementalAlterConfigsBroker(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "iab", 1, nil)
	alter := func(configs ...kadm.AlterConfig) error {
		rs, err := adm.AlterBrokerConfigs(ctx, configs)
		return alterErr(t, rs, err)
	}

	wantErr(t, "set", alter(set("log.retention.bytes", "5000000"), set("log.cleanup.policy", "compact")), nil)
	wantConfig(t, "broker", brokerConfig(t, adm, "log.retention.bytes"), "5000000", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic inherits", topicConfig(t, adm, "iab", "retention.bytes"), "5000000", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic inherits list", topicConfig(t, adm, "iab", "cleanup.policy"), "compact", kmsg.ConfigSourceDynamicBrokerConfig)

	wantErr(t, "append", alter(op(kadm.AppendConfig, "log.cleanup.policy", "delete")), nil)
	wantConfig(t, "appended", brokerConfig(t, adm, "log.cleanup.policy"), "compact,delete", kmsg.ConfigSourceDynamicBrokerConfig)
	wantErr(t, "set and delete", alter(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "log.retention.bytes"}, set("log.retention.ms", "1000")), nil)
	wantConfig(t, "deleted", brokerConfig(t, adm, "log.retention.bytes"), "-1", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "topic default again", topicConfig(t, adm, "iab", "retention.bytes"), "-1", kmsg.ConfigSourceDefaultConfig)

	for _, tc := range []struct {
		what    string
		configs []kadm.AlterConfig
		want    *kerr.Error
	}{
		{"append to a non-list", []kadm.AlterConfig{op(kadm.AppendConfig, "log.retention.ms", "1")}, kerr.InvalidConfig},
		{"read-only", []kadm.AlterConfig{set("log.retention.ms", "5"), set("auto.create.topics.enable", "false")}, kerr.InvalidConfig},
		{"invalid value", []kadm.AlterConfig{set("message.max.bytes", "-5")}, kerr.InvalidConfig},
		{"alias", []kadm.AlterConfig{set("log.retention.hours", "1")}, kerr.InvalidConfig},
	} {
		wantErr(t, tc.what, alter(tc.configs...), tc.want)
	}
	rs, err := adm.ValidateAlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "99")})
	wantErr(t, "validate-only", alterErr(t, rs, err), nil)
	wantConfig(t, "after failures", brokerConfig(t, adm, "log.retention.ms"), "1000", kmsg.ConfigSourceDynamicBrokerConfig)

	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "2000")}, 0)
	wantErr(t, "by node id", alterErr(t, rs, err), nil)
	wantConfig(t, "by node id", brokerConfig(t, adm, "log.retention.ms"), "2000", kmsg.ConfigSourceDynamicBrokerConfig)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value = "log.retention.ms", kmsg.StringPtr("3000")
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp := send[*kmsg.IncrementalAlterConfigsResponse](t, newClient(t, b), req)
	wantCode(t, "other node", resp.Resources[0].ErrorCode, kerr.InvalidRequest)
}

// ---------------------------------------------------------------------------
// Configs reaching the log, DeleteRecords

func TestSegmentBytesAndDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	b := testbroker.Start(t, broker.WithDataDir(dir))
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "dr", 1, nil)

	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", "1024")}, "dr")
	wantErr(t, "segment.bytes", alterErr(t, rs, err), nil)
	values := make([]string, 100)
	for i := range values {
		values[i] = fmt.Sprintf("v%03d-%s", i, strings.Repeat("x", 100))
	}
	produce(t, b, "dr", 0, values...)
	before := segmentFiles(t, dir, "dr", 0)
	if before < 5 {
		t.Fatalf("%d segments after writing ~15KiB with segment.bytes=1024", before)
	}

	dr := func(offset int64) kadm.DeleteRecordsResponse {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "dr", Partition: 0, At: offset})
		rs, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := rs.Lookup("dr", 0)
		if !ok {
			t.Fatal("no answer for dr/0")
		}
		return r
	}
	if r := dr(50); r.Err != nil || r.LowWatermark != 50 {
		t.Fatalf("delete records to 50: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	if start, end := offsets(t, adm, "dr", 0); start != 50 || end != 100 {
		t.Fatalf("offsets [%d, %d) after deleting to 50, want [50, 100)", start, end)
	}
	if after := segmentFiles(t, dir, "dr", 0); after >= before {
		t.Fatalf("%d segments after deleting half the records, %d before", after, before)
	}

	// Old records are gone from fetch.
	cl := newClient(t, b)
	id, _ := topicID(t, b, "dr")
	freq := kmsg.NewPtrFetchRequest()
	freq.MaxBytes, freq.MinBytes = 1<<20, 1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "dr", id
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = 0, 10, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp := send[*kmsg.FetchResponse](t, cl, freq)
	wantCode(t, "fetching a deleted offset", fresp.Topics[0].Partitions[0].ErrorCode, kerr.OffsetOutOfRange)
	if got := fresp.Topics[0].Partitions[0].LogStartOffset; got != 50 {
		t.Fatalf("fetch reports log start %d, want 50", got)
	}
	recs := consume(t, b, "dr", 0, 50)
	if recs[0].Offset != 50 || string(recs[0].Value) != values[50] {
		t.Fatalf("first record from the start: offset %d %q", recs[0].Offset, recs[0].Value)
	}

	if r := dr(10); r.Err != nil || r.LowWatermark != 50 {
		t.Fatalf("delete records below the start: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	if r := dr(101); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete records past the end: %v", r.Err)
	}
	if r := dr(-1); r.Err != nil || r.LowWatermark != 100 {
		t.Fatalf("delete records to the high watermark: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	if start, end := offsets(t, adm, "dr", 0); start != 100 || end != 100 {
		t.Fatalf("offsets [%d, %d) after deleting everything", start, end)
	}
	if off := produce(t, b, "dr", 0, "after"); off != 100 {
		t.Fatalf("record after deleting everything at offset %d, want 100", off)
	}

	// Unknown partitions, and compacted topics (POLICY_VIOLATION as in Kafka).
	createTopic(t, adm, "drc", 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")})
	req := kmsg.NewPtrDeleteRecordsRequest()
	for topic, ps := range map[string]int32{"dr": 7, "drc": 0, "nope": 0} {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = ps, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	dresp := send[*kmsg.DeleteRecordsResponse](t, cl, req)
	for _, st := range dresp.Topics {
		sp := st.Partitions[0]
		want := kerr.UnknownTopicOrPartition
		if st.Topic == "drc" {
			want = kerr.PolicyViolation
		}
		wantCode(t, st.Topic, sp.ErrorCode, want)
		if sp.LowWatermark != -1 {
			t.Fatalf("%s: low watermark %d with an error, want -1", st.Topic, sp.LowWatermark)
		}
	}
}

func TestRetentionConfigReachesLog(t *testing.T) {
	b := testbroker.Start(t, broker.WithConfig(map[string]string{"log.retention.check.interval.ms": "10"}))
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "ret", 1, map[string]*string{"segment.bytes": kmsg.StringPtr("1024")})

	// Records an hour old are kept by the default retention of 7 days...
	cl := newClient(t, b)
	old := time.Now().Add(-time.Hour)
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Topic: "ret", Value: []byte(strings.Repeat("y", 200)), Timestamp: old}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// ...until retention.ms drops below their age.
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "60000")}, "ret")
	wantErr(t, "retention.ms", alterErr(t, rs, err), nil)
	for {
		start, end := offsets(t, adm, "ret", 0)
		if start == end && end == 20 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("retention left offsets [%d, %d)", start, end)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------
// DescribeCluster

func TestDescribeCluster(t *testing.T) {
	b := testbroker.Start(t, broker.WithNodeID(5))
	cl := newClient(t, b)
	host, port, _ := net.SplitHostPort(b.Addr())

	req := kmsg.NewPtrDescribeClusterRequest()
	resp := send[*kmsg.DescribeClusterResponse](t, cl, req)
	if resp.Version != 1 {
		t.Fatalf("answered v%d, want v1", resp.Version)
	}
	wantCode(t, "describe", resp.ErrorCode, nil)
	if resp.ClusterID != b.ClusterID() || resp.ClusterID == "" {
		t.Fatalf("cluster id %q, want %q", resp.ClusterID, b.ClusterID())
	}
	if resp.ControllerID != 5 || resp.EndpointType != 1 {
		t.Fatalf("controller %d, endpoint type %d", resp.ControllerID, resp.EndpointType)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 5 || resp.Brokers[0].Host != host ||
		strconv.Itoa(int(resp.Brokers[0].Port)) != port || resp.Brokers[0].Rack != nil {
		t.Fatalf("brokers %+v, want node 5 at %s", resp.Brokers, b.Addr())
	}
	if resp.ClusterAuthorizedOperations != math.MinInt32 {
		t.Fatalf("authorized operations %d when not requested", resp.ClusterAuthorizedOperations)
	}

	req.IncludeClusterAuthorizedOperations = true
	resp = send[*kmsg.DescribeClusterResponse](t, cl, req)
	var want int32
	for _, op := range []kmsg.ACLOperation{
		kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationClusterAction,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
	} {
		want |= 1 << op
	}
	if resp.ClusterAuthorizedOperations != want {
		t.Fatalf("authorized operations %b, want %b", resp.ClusterAuthorizedOperations, want)
	}

	for _, tc := range []struct {
		typ  int8
		want *kerr.Error
	}{{2, kerr.MismatchedEndpointType}, {0, kerr.UnsupportedEndpointType}, {9, kerr.UnsupportedEndpointType}} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.EndpointType = tc.typ
		resp := send[*kmsg.DescribeClusterResponse](t, cl, req)
		wantCode(t, fmt.Sprintf("endpoint type %d", tc.typ), resp.ErrorCode, tc.want)
		if resp.ErrorMessage == nil || len(resp.Brokers) != 0 {
			t.Fatalf("endpoint type %d: message %v, brokers %+v", tc.typ, resp.ErrorMessage, resp.Brokers)
		}
	}

	v0 := newClient(t, b, maxVersion(kmsg.DescribeCluster, 0))
	resp = send[*kmsg.DescribeClusterResponse](t, v0, kmsg.NewPtrDescribeClusterRequest())
	if resp.Version != 0 || resp.ErrorCode != 0 || resp.ClusterID != b.ClusterID() || len(resp.Brokers) != 1 {
		t.Fatalf("v0: %+v", resp)
	}
}

// ---------------------------------------------------------------------------
// OffsetForLeaderEpoch

func offsetForLeaderEpoch(t *testing.T, cl *kgo.Client, topic string, partition, epoch, current int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = partition, epoch, current
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := send[*kmsg.OffsetForLeaderEpochResponse](t, cl, req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("malformed answer %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	cl := newClient(t, b)
	createTopic(t, adm, "ofle", 2, nil)
	produce(t, b, "ofle", 1, "a", "b", "c", "d", "e")

	for _, tc := range []struct {
		what           string
		partition      int32
		epoch, current int32
		wantEpoch      int32
		wantOffset     int64
		wantErr        *kerr.Error
	}{
		{"epoch 0", 1, 0, -1, 0, 5, nil},
		{"epoch 0, current 0", 1, 0, 0, 0, 5, nil},
		{"empty partition", 0, 0, -1, 0, 0, nil},
		{"future epoch", 1, 1, -1, -1, -1, nil},
		{"undefined epoch", 1, -1, -1, -1, -1, nil},
		{"newer current epoch", 1, 0, 1, -1, -1, kerr.UnknownLeaderEpoch},
		{"older current epoch", 1, 0, -2, -1, -1, kerr.FencedLeaderEpoch},
		{"unknown partition", 2, 0, -1, -1, -1, kerr.UnknownTopicOrPartition},
	} {
		p := offsetForLeaderEpoch(t, cl, "ofle", tc.partition, tc.epoch, tc.current)
		wantCode(t, tc.what, p.ErrorCode, tc.wantErr)
		if p.LeaderEpoch != tc.wantEpoch || p.EndOffset != tc.wantOffset {
			t.Fatalf("%s: epoch %d end offset %d, want %d %d", tc.what, p.LeaderEpoch, p.EndOffset, tc.wantEpoch, tc.wantOffset)
		}
	}
	p := offsetForLeaderEpoch(t, cl, "no-such-topic", 0, 0, -1)
	wantCode(t, "unknown topic", p.ErrorCode, kerr.UnknownTopicOrPartition)

	// kadm's helper, and the oldest version (no leader epoch in the answer).
	var req kadm.OffsetForLeaderEpochRequest
	req.Add("ofle", 1, 0)
	ls, err := adm.OffsetForLeaderEpoch(testCtx(t), req)
	if err != nil || ls["ofle"][1].Err != nil || ls["ofle"][1].EndOffset != 5 {
		t.Fatalf("kadm: %+v %v", ls, err)
	}
	v0 := newClient(t, b, maxVersion(kmsg.OffsetForLeaderEpoch, 0))
	if p := offsetForLeaderEpoch(t, v0, "ofle", 1, 0, -1); p.ErrorCode != 0 || p.EndOffset != 5 {
		t.Fatalf("v0: %+v", p)
	}
}

// ---------------------------------------------------------------------------
// CreateTopics request checks (coverage of the existing API)

func TestCreateTopicsRequestChecks(t *testing.T) {
	b := testbroker.Start(t)
	adm := newAdmin(t, b)
	cl := newClient(t, b)
	ctx := testCtx(t)
	createTopic(t, adm, "exists", 1, nil)
	createTopic(t, adm, "dotted.name", 1, nil)

	rs, err := adm.ValidateCreateTopics(ctx, 3, 1, map[string]*string{"retention.ms": kmsg.StringPtr("1000")}, "validated")
	if err != nil || rs["validated"].Err != nil || rs["validated"].NumPartitions != 3 {
		t.Fatalf("validate-only: %+v %v", rs["validated"], err)
	}
	if topicExists(t, b, "validated") {
		t.Fatal("validate-only created the topic")
	}

	topic := func(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		for i := 0; i+1 < len(configs); i += 2 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
			rt.Configs = append(rt.Configs, c)
		}
		return rt
	}
	for _, tc := range []struct {
		what string
		rt   kmsg.CreateTopicsRequestTopic
		want *kerr.Error
	}{
		{"exists", topic("exists", 1, 1), kerr.TopicAlreadyExists},
		{"empty name", topic("", 1, 1), kerr.InvalidTopicException},
		{"dot", topic(".", 1, 1), kerr.InvalidTopicException},
		{"slash", topic("a/b", 1, 1), kerr.InvalidTopicException},
		{"too long", topic(strings.Repeat("n", 250), 1, 1), kerr.InvalidTopicException},
		{"collides", topic("dotted_name", 1, 1), kerr.InvalidTopicException},
		{"zero partitions", topic("zero", 0, 1), kerr.InvalidPartitions},
		{"replication factor", topic("rf", 1, 3), kerr.InvalidReplicationFactor},
		{"invalid config value", topic("badcfg", 1, 1, "retention.ms", "forever"), kerr.InvalidConfig},
		{"unknown config", topic("unkcfg", 1, 1, "no.such.config", "1"), kerr.InvalidConfig},
		{"default partitions", topic("defaults", -1, -1), nil},
	} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics = append(req.Topics, tc.rt)
		resp := send[*kmsg.CreateTopicsResponse](t, cl, req)
		wantCode(t, tc.what, resp.Topics[0].ErrorCode, tc.want)
		if tc.want != nil && tc.rt.Topic != "exists" && tc.rt.Topic != "" && topicExists(t, b, tc.rt.Topic) {
			t.Fatalf("%s: topic created despite the error", tc.what)
		}
	}

	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = []kmsg.CreateTopicsRequestTopic{topic("twice", 1, 1), topic("twice", 2, 1), topic("once", 1, 1)}
	resp := send[*kmsg.CreateTopicsResponse](t, cl, req)
	for _, st := range resp.Topics {
		if st.Topic == "twice" {
			wantCode(t, "duplicate", st.ErrorCode, kerr.InvalidRequest)
		} else {
			wantCode(t, st.Topic, st.ErrorCode, nil)
		}
	}
	if topicExists(t, b, "twice") || !topicExists(t, b, "once") {
		t.Fatal("duplicate created, or its neighbour not created")
	}
}

// ---------------------------------------------------------------------------
// Restart

func TestAdminChangesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b1 := testbroker.Start(t, broker.WithDataDir(dir))
	adm := newAdmin(t, b1)
	ctx := testCtx(t)
	cluster := b1.ClusterID()

	createTopic(t, adm, "gone", 1, nil)
	oldID := createTopic(t, adm, "again", 1, nil)
	produce(t, b1, "again", 0, "old")
	createTopic(t, adm, "grown", 1, nil)
	createTopic(t, adm, "conf", 1, map[string]*string{"segment.ms": kmsg.StringPtr("5000")})
	createTopic(t, adm, "trim", 1, nil)

	if _, err := adm.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopic(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	newID := createTopic(t, adm, "again", 1, nil)
	produce(t, b1, "again", 0, "new")
	if rs, err := adm.CreatePartitions(ctx, 2, "grown"); err != nil || rs["grown"].Err != nil {
		t.Fatal(err, rs["grown"].Err)
	}
	produce(t, b1, "grown", 2, "in-new-partition")
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		set("retention.ms", "3600000"),
		op(kadm.AppendConfig, "cleanup.policy", "compact"),
		{Op: kadm.DeleteConfig, Name: "segment.ms"},
	}, "conf")
	wantErr(t, "alter topic", alterErr(t, rs, err), nil)
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.segment.bytes", "1024"), set("log.retention.bytes", "1000000")})
	wantErr(t, "alter broker", alterErr(t, rs, err), nil)
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("max.message.bytes", "10000")}, "trim")
	wantErr(t, "alter topic state", alterErr(t, rs, err), nil)
	produce(t, b1, "trim", 0, "0", "1", "2", "3", "4", "5", "6", "7")
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 5})
	if drs, err := adm.DeleteRecords(ctx, os); err != nil || drs.Error() != nil {
		t.Fatal(err, drs.Error())
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := testbroker.Start(t, broker.WithDataDir(dir))
	adm = newAdmin(t, b2)
	cl := newClient(t, b2)
	if b2.ClusterID() != cluster {
		t.Fatalf("cluster id %q after restart, was %q", b2.ClusterID(), cluster)
	}
	dc := send[*kmsg.DescribeClusterResponse](t, cl, kmsg.NewPtrDescribeClusterRequest())
	if dc.ClusterID != cluster {
		t.Fatalf("DescribeCluster cluster id %q after restart, was %q", dc.ClusterID, cluster)
	}

	if topicExists(t, b2, "gone") {
		t.Fatal("deleted topic back after restart")
	}
	if id, _ := topicID(t, b2, "again"); id != newID || id == oldID {
		t.Fatalf("recreated topic has id %v after restart, want %v", id, newID)
	}
	if recs := consume(t, b2, "again", 0, 1); string(recs[0].Value) != "new" {
		t.Fatalf("recreated topic holds %q after restart", recs[0].Value)
	}
	if _, n := topicID(t, b2, "grown"); n != 3 {
		t.Fatalf("grown topic has %d partitions after restart", n)
	}
	if recs := consume(t, b2, "grown", 2, 1); string(recs[0].Value) != "in-new-partition" {
		t.Fatalf("new partition holds %q after restart", recs[0].Value)
	}

	wantConfig(t, "retention.ms", topicConfig(t, adm, "conf", "retention.ms"), "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "cleanup.policy", topicConfig(t, adm, "conf", "cleanup.policy"), "delete,compact", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "segment.ms", topicConfig(t, adm, "conf", "segment.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "max.message.bytes", topicConfig(t, adm, "trim", "max.message.bytes"), "10000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "broker log.segment.bytes", brokerConfig(t, adm, "log.segment.bytes"), "1024", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic segment.bytes", topicConfig(t, adm, "grown", "segment.bytes"), "1024", kmsg.ConfigSourceDynamicBrokerConfig)
	wantConfig(t, "topic retention.bytes", topicConfig(t, adm, "conf", "retention.bytes"), "1000000", kmsg.ConfigSourceDynamicBrokerConfig)

	if start, end := offsets(t, adm, "trim", 0); start != 5 || end != 8 {
		t.Fatalf("trimmed partition has offsets [%d, %d) after restart, want [5, 8)", start, end)
	}
	if p := offsetForLeaderEpoch(t, cl, "trim", 0, 0, -1); p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 8 {
		t.Fatalf("OffsetForLeaderEpoch after restart: %+v", p)
	}

	// The restored dynamic log.segment.bytes governs logs opened at start.
	values := make([]string, 20)
	for i := range values {
		values[i] = strings.Repeat("z", 200)
	}
	produce(t, b2, "grown", 0, values...)
	if n := segmentFiles(t, dir, "grown", 0); n < 2 {
		t.Fatalf("%d segment(s) after writing ~5KiB with log.segment.bytes=1024 restored", n)
	}
}
