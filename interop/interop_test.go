package interop

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A client is one Kafka client library or tool under test.
type client struct {
	name string
	// excluded lists the codecs this client can neither write nor read,
	// with the reason.
	excluded map[string]string
	// headers says what headers the client attaches when producing.
	headers headerMode
	// timestamps: the client sets each record's timestamp when producing.
	// Otherwise the producer stamps them itself and produce reports, per
	// topic, a splitTS between records splitAt-1 and splitAt.
	timestamps bool
	// probe, when not nil, reports whether the client can run here.
	probe func(ctx context.Context) error
	// produce writes each job's records to partition 0 of its topic,
	// compressed with its codec, and reports per topic.
	produce func(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error)
	// consume reads each job's topic, partition 0, from the beginning or
	// from the first offset whose timestamp is at least job.Timestamp, up to
	// the high watermark as it was when the read started.
	consume func(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error)

	probeOnce sync.Once
	probeErr  error
}

type produceJob struct {
	Topic   string       `json:"topic"`
	Codec   string       `json:"codec"`
	Records []wireRecord `json:"records"`
}

type produceResult struct {
	// SplitTS, for producers that do not set timestamps: every record
	// before splitAt was stamped before it, every other at or after it.
	SplitTS int64  `json:"split_ts,omitempty"`
	Error   string `json:"error,omitempty"`
}

const (
	fromBeginning = "beginning"
	fromTimestamp = "timestamp"
)

type consumeJob struct {
	ID        string `json:"id"`
	Topic     string `json:"topic"`
	From      string `json:"from"` // fromBeginning or fromTimestamp
	Timestamp int64  `json:"timestamp,omitempty"`
}

type consumeResult struct {
	Records []wireRecord `json:"records"`
	Error   string       `json:"error,omitempty"`
}

// clients is the matrix: every client produces with every codec it
// supports, and every other client reads that back.
var clients = []*client{
	kcatClient,
	kafkaPythonClient,
	confluentKafkaClient,
	kafkajsClient,
	franzClient,
	saramaClient,
	kafkaGoClient,
}

// Time limits. They only bound a broken run; none of them is a
// performance threshold.
const (
	produceTimeout = 90 * time.Second
	consumeTimeout = 90 * time.Second
	// jobTimeout bounds one read of one topic inside a client (kafkajs:
	// of one round of topics). Once a read has timed out, a client runs
	// none of its remaining reads, so that a broker that hangs fails the
	// suite within minutes.
	jobTimeout = 20 * time.Second
)

func (c *client) codecs() []string {
	var cs []string
	for _, codec := range allCodecs {
		if _, ok := c.excluded[codec]; !ok {
			cs = append(cs, codec)
		}
	}
	return cs
}

// available reports, once, whether the client can run on this machine.
func (c *client) available() error {
	if c.probe == nil {
		return nil
	}
	c.probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.probeErr = c.probe(ctx)
	})
	return c.probeErr
}

// requireAvailable skips the test when the client cannot run on this
// machine, or fails it under CI (CI=true), where .ci/install-interop.sh
// must have installed it.
func requireAvailable(t *testing.T, c *client) {
	t.Helper()
	err := c.available()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s is not available (run .ci/install-interop.sh as root to install it): %v", c.name, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestInterop(t *testing.T) {
	// Every client call is bounded by ctx, which ends before go test's own
	// -timeout would, so a hung client fails its test instead of the run.
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-15*time.Second))
		defer cancel()
	}
	bootstrap := startBroker(t)
	adm := newAdmin(t, bootstrap)
	groupsMissing := missingGroupAPIs(ctx, t, adm)
	// Topic names are fresh on every run, so an external broker can be
	// reused; timestamps are recent, so no retention deletes the records.
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second).UnixMilli()

	for _, p := range clients {
		t.Run(p.name, func(t *testing.T) {
			requireAvailable(t, p)
			for codec, why := range p.excluded {
				t.Logf("%s does not produce with %s: %s", p.name, codec, why)
			}

			// Produce: one topic per codec.
			var jobs []produceJob
			var ts int64 // 0: the producer stamps the records itself
			if p.timestamps {
				ts = base
			}
			for _, codec := range p.codecs() {
				topic := topicName(p, codec, runID)
				createTopic(ctx, t, adm, topic)
				jobs = append(jobs, produceJob{Topic: topic, Codec: codec, Records: makeRecords(ts, p.headers)})
			}
			pctx, cancel := context.WithTimeout(ctx, produceTimeout)
			produced, err := p.produce(pctx, bootstrap, jobs)
			cancel()
			if err != nil {
				t.Fatalf("%s produce: %v", p.name, err)
			}

			// Outcome per codec, computed here rather than in the produce
			// subtests so that -run can select reads alone.
			exps := map[string]expectation{} // by codec, for the topics produced
			produceErrs := map[string]string{}
			var topics []produceJob
			for _, j := range jobs {
				res, ok := produced[j.Topic]
				exp := expectation{records: j.Records, exactTS: p.timestamps}
				if p.timestamps {
					exp.splitTS = j.Records[splitAt].Timestamp
				} else {
					exp.splitTS = res.SplitTS
				}
				switch {
				case !ok:
					produceErrs[j.Codec] = "no result for topic " + j.Topic
				case res.Error != "":
					produceErrs[j.Codec] = "produce to " + j.Topic + ": " + res.Error
				case exp.splitTS <= 0:
					produceErrs[j.Codec] = "producer reported no split timestamp for " + j.Topic
				default:
					exps[j.Codec] = exp
					topics = append(topics, j)
				}
			}
			t.Run("produce", func(t *testing.T) {
				for _, j := range jobs {
					t.Run(j.Codec, func(t *testing.T) {
						if e, bad := produceErrs[j.Codec]; bad {
							t.Fatal(e)
						}
					})
				}
			})

			// Every other client reads the topics back. The readers run
			// at the same time, each in one go over all topics; the
			// subtests below then check what each returned.
			type readOutcome struct {
				results map[string]consumeResult
				err     error
			}
			outcomes := map[*client]*readOutcome{}
			var wg sync.WaitGroup
			for _, r := range clients {
				if r == p || r.available() != nil {
					continue // an unavailable reader is reported in its subtest
				}
				if r.name == "kafkajs" && groupsMissing != "" {
					continue // kafkajs consumes only through a consumer group
				}
				var cjobs []consumeJob
				for _, j := range topics {
					if _, no := r.excluded[j.Codec]; no {
						continue
					}
					cjobs = append(cjobs,
						consumeJob{ID: j.Topic + "@" + fromBeginning, Topic: j.Topic, From: fromBeginning},
						consumeJob{ID: j.Topic + "@" + fromTimestamp, Topic: j.Topic, From: fromTimestamp, Timestamp: exps[j.Codec].splitTS})
				}
				o := &readOutcome{}
				outcomes[r] = o
				if len(cjobs) == 0 {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					cctx, cancel := context.WithTimeout(ctx, consumeTimeout)
					defer cancel()
					o.results, o.err = r.consume(cctx, bootstrap, cjobs)
				}()
			}
			wg.Wait()

			for _, r := range clients {
				if r == p {
					continue
				}
				t.Run(r.name, func(t *testing.T) {
					requireAvailable(t, r)
					if r.name == "kafkajs" && groupsMissing != "" {
						t.Skipf("kafkajs consumes only through a consumer group; the broker does not serve %s yet", groupsMissing)
					}
					o := outcomes[r]
					if o.err != nil {
						t.Fatalf("%s consume: %v", r.name, o.err)
					}
					for _, codec := range allCodecs {
						t.Run(codec, func(t *testing.T) {
							if why, no := p.excluded[codec]; no {
								t.Skipf("excluded: %s does not produce with %s: %s", p.name, codec, why)
							}
							if why, no := r.excluded[codec]; no {
								t.Skipf("excluded: %s does not read %s: %s", r.name, codec, why)
							}
							exp, ok := exps[codec]
							if !ok {
								t.Skipf("%s failed to produce with %s (see %s/produce/%s)", p.name, codec, p.name, codec)
							}
							topic := topicName(p, codec, runID)
							for _, mode := range []string{fromBeginning, fromTimestamp} {
								t.Run("from-"+mode, func(t *testing.T) {
									res, ok := o.results[topic+"@"+mode]
									if !ok {
										t.Fatalf("%s returned no result for %s", r.name, topic)
									}
									if res.Error != "" {
										t.Errorf("%s read of %s from %s: %s", r.name, topic, mode, res.Error)
									}
									first := 0
									if mode == fromTimestamp {
										first = splitAt
									}
									checkRead(t, res.Records, exp, first)
								})
							}
						})
					}
				})
			}
		})
	}
}

// missingGroupAPIs names the consumer-group APIs the broker does not
// advertise ("" when it has them all).
func missingGroupAPIs(ctx context.Context, t *testing.T, adm *kadm.Client) string {
	t.Helper()
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var missing []string
	vs.Each(func(v kadm.BrokerApiVersions) {
		for _, key := range []int16{10, 11, 12, 13, 14, 9} { // FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, OffsetFetch
			if _, _, ok := v.KeyVersions(key); !ok {
				missing = append(missing, kmsg.NameForKey(key))
			}
		}
	})
	return strings.Join(missing, ", ")
}

func topicName(producer *client, codec, runID string) string {
	return fmt.Sprintf("interop-%s-%s-%s", producer.name, codec, runID)
}

func newAdmin(t *testing.T, bootstrap string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(splitAddrs(bootstrap)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates a topic with one partition, so every client writes
// the records in order to partition 0.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func splitAddrs(bootstrap string) []string {
	var out []string
	for _, a := range strings.Split(bootstrap, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
