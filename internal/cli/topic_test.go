package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestTopicLifecycle(t *testing.T) {
	c := newCluster(t)
	topic := uniqueTopic(t)

	out := c.ok("", "topic", "create", topic, "-p", "3", "-r", "1", "-c", "retention.ms=3600000", "-c", "cleanup.policy=delete")
	if f := fields(out, topic); len(f) != 2 || f[1] != "OK" {
		t.Fatalf("create output:\n%s", out)
	}
	if h := fields(out, "TOPIC"); len(h) != 2 || h[1] != "STATUS" {
		t.Fatalf("create output lacks header:\n%s", out)
	}

	// Creating it again fails with the Kafka error name shown.
	r := c.fail("", "topic", "create", topic, "-p", "3", "-r", "1")
	if !strings.Contains(r.stdout, "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("duplicate create output lacks TOPIC_ALREADY_EXISTS:\n%s", r.stdout)
	}
	if !strings.Contains(r.err.Error(), "1 of 1") {
		t.Fatalf("duplicate create error = %v", r.err)
	}

	out = c.ok("", "topic", "list")
	if f := fields(out, topic); len(f) != 3 || f[1] != "3" || f[2] != "1" {
		t.Fatalf("list row for %s = %v in:\n%s", topic, f, out)
	}

	// Put records in two partitions so the high watermarks differ.
	c.ok("a\nb\n", "produce", topic, "--partition", "1")
	c.ok("c\n", "produce", topic, "--partition", "2")

	out = c.ok("", "topic", "describe", topic)
	for _, want := range []string{"SUMMARY", "CONFIGS", "PARTITIONS", "LOG-START-OFFSET", "HIGH-WATERMARK"} {
		if !strings.Contains(out, want) {
			t.Fatalf("describe lacks %q:\n%s", want, out)
		}
	}
	if f := fields(out, "NAME"); len(f) != 2 || f[1] != topic {
		t.Fatalf("describe NAME row = %v", f)
	}
	if f := fields(out, "retention.ms"); len(f) != 3 || f[1] != "3600000" || f[2] != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("describe retention.ms row = %v in:\n%s", f, out)
	}
	// PARTITION LEADER EPOCH REPLICAS LOG-START-OFFSET HIGH-WATERMARK
	wantHWM := map[string]string{"0": "0", "1": "2", "2": "1"}
	for p, hwm := range wantHWM {
		f := fields(out[strings.Index(out, "PARTITIONS\n==="):], p)
		if len(f) != 6 || f[4] != "0" || f[5] != hwm {
			t.Fatalf("partition %s row = %v, want log start 0 and high watermark %s:\n%s", p, f, hwm, out)
		}
	}

	out = c.ok("", "topic", "delete", topic)
	if f := fields(out, topic); len(f) != 2 || f[1] != "OK" {
		t.Fatalf("delete output:\n%s", out)
	}
	if f := fields(c.ok("", "topic", "list"), topic); f != nil {
		t.Fatalf("deleted topic still listed: %v", f)
	}
	r = c.fail("", "topic", "delete", topic)
	if !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("deleting a missing topic:\n%s", r.stdout)
	}
	r = c.fail("", "topic", "describe", topic)
	if !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("describing a missing topic:\n%s", r.stdout)
	}
}

func TestTopicCreateMany(t *testing.T) {
	c := newCluster(t)
	a, b := uniqueTopic(t), uniqueTopic(t)
	out := c.ok("", "topic", "create", a, b, "-p", "2", "-r", "1")
	if fields(out, a) == nil || fields(out, b) == nil {
		t.Fatalf("create output:\n%s", out)
	}
	r := c.fail("", "topic", "create", "bad", "-c", "novalue")
	if !strings.Contains(r.err.Error(), "key=value") {
		t.Fatalf("bad -c error = %v", r.err)
	}
	out = c.ok("", "topic", "delete", a, b)
	if f := fields(out, b); len(f) != 2 || f[1] != "OK" {
		t.Fatalf("delete output:\n%s", out)
	}
}

func TestTopicAlterConfig(t *testing.T) {
	c := newCluster(t)
	topic := c.createTopic(1)

	out := c.ok("", "topic", "alter-config", topic, "--set", "retention.ms=12345", "--set", "cleanup.policy=compact")
	if f := fields(out, topic); len(f) != 2 || f[1] != "OK" {
		t.Fatalf("alter-config output:\n%s", out)
	}
	out = c.ok("", "topic", "describe", topic)
	if f := fields(out, "retention.ms"); len(f) != 3 || f[1] != "12345" || f[2] != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms after set = %v:\n%s", f, out)
	}
	if f := fields(out, "cleanup.policy"); len(f) < 2 || f[1] != "compact" {
		t.Fatalf("cleanup.policy after set = %v", f)
	}

	// Deleting one config reverts it to the default and leaves the other.
	c.ok("", "topic", "alter-config", topic, "--delete", "retention.ms")
	out = c.ok("", "topic", "describe", topic)
	if f := fields(out, "retention.ms"); f != nil && (f[1] == "12345" || f[2] == "DYNAMIC_TOPIC_CONFIG") {
		t.Fatalf("retention.ms after delete = %v", f)
	}
	if f := fields(out, "cleanup.policy"); len(f) < 2 || f[1] != "compact" {
		t.Fatalf("cleanup.policy after deleting retention.ms = %v", f)
	}

	if r := c.fail("", "topic", "alter-config", topic); !strings.Contains(r.err.Error(), "nothing to alter") {
		t.Fatalf("alter-config without changes: %v", r.err)
	}
	r := c.fail("", "topic", "alter-config", uniqueTopic(t), "--set", "retention.ms=1")
	if !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("alter-config on a missing topic:\n%s", r.stdout)
	}
}

func TestBrokersFromEnv(t *testing.T) {
	brokers := startTestBroker(t)
	t.Setenv(BrokersEnv, strings.Join(brokers, ","))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := uniqueTopic(t)
	if r := eddy(ctx, nil, "", "topic", "create", topic, "-p", "1", "-r", "1"); r.err != nil {
		t.Fatalf("create via %s: %v", BrokersEnv, r.err)
	}
	r := eddy(ctx, nil, "", "topic", "list")
	if r.err != nil || fields(r.stdout, topic) == nil {
		t.Fatalf("list via %s: %v\n%s", BrokersEnv, r.err, r.stdout)
	}
	// An explicit flag wins over the environment.
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if r := eddy(short, []string{"127.0.0.1:1"}, "", "topic", "list", "--timeout", "1s"); r.err == nil {
		t.Fatalf("--brokers did not override %s", BrokersEnv)
	}
}

func TestVersion(t *testing.T) {
	r := eddy(context.Background(), nil, "", "version")
	if r.err != nil || !strings.HasPrefix(r.stdout, "eddy ") {
		t.Fatalf("version: %v %q", r.err, r.stdout)
	}
}
